import fs from 'node:fs/promises';
import path from 'node:path';

/** Release directories: `<stateDir>/apps/<app>/releases/<release>`, mounted at /app. */
export class ReleaseDirs {
  constructor(private readonly stateDir: string) {}

  /** The state directory itself: its filesystem is the one builds fill (GASPER_MIN_FREE_DISK_MB). */
  root(): string {
    return this.stateDir;
  }

  appDir(app: string): string {
    return path.join(this.stateDir, 'apps', app);
  }

  releaseDir(app: string, release: string): string {
    return path.join(this.appDir(app), 'releases', release);
  }

  /** This installation's ssh `known_hosts` for clones (and an optional `id_ed25519`), never root's ~/.ssh. */
  gitSshDir(): string {
    return path.join(this.stateDir, 'git-ssh');
  }

  async exists(app: string, release: string): Promise<boolean> {
    return fs.stat(this.releaseDir(app, release)).then(
      (s) => s.isDirectory(),
      () => false,
    );
  }

  async removeRelease(app: string, release: string): Promise<void> {
    await fs.rm(this.releaseDir(app, release), { recursive: true, force: true });
  }

  async removeApp(app: string): Promise<void> {
    await fs.rm(this.appDir(app), { recursive: true, force: true });
  }
}

/** Hands a fresh clone to the unprivileged app user (only possible, and needed, when running as root). */
export async function chownTree(dir: string, uid: number, gid: number): Promise<void> {
  if (process.getuid?.() !== 0) return;
  await fs.chown(dir, uid, gid);
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) await chownTree(full, uid, gid);
    else await fs.lchown(full, uid, gid);
  }
}
