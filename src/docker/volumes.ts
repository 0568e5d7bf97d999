import type Docker from 'dockerode';

/** Narrow Docker adapter for named volumes (a database's data). */

const statusOf = (err: unknown) => (err as { statusCode?: number })?.statusCode;

/** Creates the named volume unless it exists (Docker's create is idempotent for a name). */
export async function ensureVolume(docker: Docker, name: string, labels: Record<string, string>): Promise<void> {
  await docker.createVolume({ Name: name, Labels: labels });
}

export async function removeVolume(docker: Docker, name: string): Promise<void> {
  try {
    await docker.getVolume(name).remove({ force: true });
  } catch (err) {
    if (statusOf(err) !== 404) throw err;
  }
}
