/**
 * The database engines Gasper provisions, one declarative entry each: adding an engine is adding
 * an entry (and an image under docker/databases/). Pure: the worker turns these into Docker calls.
 *
 * Commands run inside the database's own container with `docker exec`. Secrets reach them through
 * the exec's environment or stdin, never through argv (which `ps` shows to every user of a node).
 */

/** What a database's owner connects with. Names are ours ([a-z0-9_]); passwords base64url. */
export interface DatabaseCredentials {
  database: string;
  user: string;
  password: string;
}

/** One `docker exec`: its argv, its environment, and what it reads on stdin. */
export interface EngineExec {
  cmd: string[];
  env?: Record<string, string>;
  /** Run as this user inside the container (default: the image's user). */
  user?: string;
  stdin?: string;
  /** Success also needs stdout to match (some clients exit 0 on an auth error). */
  expect?: RegExp;
}

export interface Engine {
  name: string;
  /** Port the server listens on inside its container. */
  port: number;
  /** Where the server keeps its data: the database's named volume is mounted here. */
  dataPath: string;
  /** Scheme of the connection URL. */
  scheme: string;
  /** Env variable a linked app receives when it links one database of this engine. */
  urlVariable: string;
  /** Whether the URL names a user and a database (Redis has one password and numbered dbs). */
  namedUser: boolean;
  /** The user in the URL of an engine without named users (Redis: `default`). */
  urlUser?: string;
  /** Container environment. Official images read the same variables on their first start. */
  env(c: DatabaseCredentials): Record<string, string>;
  /** Container command, when the image's default is not enough. */
  command?: string[];
  /**
   * Makes the user and database exist with the current password; safe to repeat (it is how a
   * password rotation reaches data made with the old one). Absent when the env does it all.
   */
  createUser?(c: DatabaseCredentials): EngineExec;
  /** Logs in over TCP with the credentials, as a client would: succeeds only if they work. */
  loginCheck(c: DatabaseCredentials): EngineExec;
  /** Writes a backup of the database to stdout. */
  backup(c: DatabaseCredentials): EngineExec;
  /** Reads a backup made by `backup` on stdin and puts the database back as it was then. */
  restore(c: DatabaseCredentials): EngineExec;
  /** The engine loads a restore only on its next start: the worker restarts it, then runs `afterRestore`. */
  restartAfterRestore?: boolean;
  afterRestore?(c: DatabaseCredentials): EngineExec;
  /** File extension of a backup, for downloads. */
  backupExtension: string;
}

/** A SQL string literal. Our values never contain quotes; this keeps it true if that changes. */
const sqlString = (value: string) => `'${value.replace(/'/g, "''")}'`;
const pgIdent = (value: string) => `"${value.replace(/"/g, '""')}"`;
const myIdent = (value: string) => `\`${value.replace(/`/g, '``')}\``;

const postgres: Engine = {
  name: 'postgres',
  port: 5432,
  dataPath: '/var/lib/postgresql/data',
  scheme: 'postgres',
  urlVariable: 'DATABASE_URL',
  namedUser: true,
  env: (c) => ({ POSTGRES_USER: c.user, POSTGRES_PASSWORD: c.password, POSTGRES_DB: c.database }),
  // Over the unix socket, which trusts local users: the user is the cluster's superuser.
  createUser: (c) => ({
    cmd: ['psql', '-v', 'ON_ERROR_STOP=1', '-qAt', '-U', c.user, '-d', 'postgres'],
    stdin: [
      `ALTER USER ${pgIdent(c.user)} PASSWORD ${sqlString(c.password)};`,
      `SELECT ${sqlString(`CREATE DATABASE ${pgIdent(c.database)} OWNER ${pgIdent(c.user)}`)}`,
      `  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = ${sqlString(c.database)})\\gexec`,
      `REVOKE CONNECT ON DATABASE ${pgIdent(c.database)} FROM PUBLIC;`,
      '',
    ].join('\n'),
  }),
  loginCheck: (c) => ({
    cmd: ['psql', '-h', '127.0.0.1', '-U', c.user, '-d', c.database, '-w', '-qAtc', 'SELECT 1'],
    env: { PGPASSWORD: c.password, PGCONNECT_TIMEOUT: '3' },
    expect: /^1$/m,
  }),
  backup: (c) => ({ cmd: ['pg_dump', '--format=custom', '-U', c.user, '-d', c.database] }),
  restore: (c) => ({
    cmd: ['pg_restore', '--clean', '--if-exists', '--no-owner', '--single-transaction', '-U', c.user, '-d', c.database],
  }),
  backupExtension: 'pgdump',
};

const mysql: Engine = {
  name: 'mysql',
  port: 3306,
  dataPath: '/var/lib/mysql',
  scheme: 'mysql',
  urlVariable: 'DATABASE_URL',
  namedUser: true,
  env: (c) => ({
    MARIADB_USER: c.user,
    MARIADB_PASSWORD: c.password,
    MARIADB_DATABASE: c.database,
    MARIADB_RANDOM_ROOT_PASSWORD: '1',
  }),
  // As root over the unix socket (socket authentication: only `docker exec` as root gets in).
  createUser: (c) => ({
    user: 'root',
    cmd: ['mariadb', '-uroot'],
    stdin: [
      `CREATE DATABASE IF NOT EXISTS ${myIdent(c.database)};`,
      `CREATE USER IF NOT EXISTS ${sqlString(c.user)}@'%' IDENTIFIED BY ${sqlString(c.password)};`,
      `ALTER USER ${sqlString(c.user)}@'%' IDENTIFIED BY ${sqlString(c.password)};`,
      `GRANT ALL PRIVILEGES ON ${myIdent(c.database)}.* TO ${sqlString(c.user)}@'%';`,
      'FLUSH PRIVILEGES;',
      '',
    ].join('\n'),
  }),
  loginCheck: (c) => ({
    cmd: [
      'mariadb',
      '--protocol=TCP',
      '-h127.0.0.1',
      `-u${c.user}`,
      '--connect-timeout=3',
      '-NBe',
      'SELECT 1',
      c.database,
    ],
    env: { MYSQL_PWD: c.password },
    expect: /^1$/m,
  }),
  backup: (c) => ({
    user: 'root',
    cmd: ['mariadb-dump', '-uroot', '--single-transaction', '--routines', '--triggers', '--add-drop-table', c.database],
  }),
  restore: (c) => ({ user: 'root', cmd: ['mariadb', '-uroot', c.database] }),
  backupExtension: 'sql',
};

/**
 * Redis has no users to create: the password is `requirepass`, from the env on every start. A
 * restored RDB is dropped in the volume and loaded on the next start (with the AOF, which would
 * win over it, set aside); `appendonly` is switched back on once it is loaded.
 */
const redisStart = [
  'cd /data',
  'if [ -f restore.rdb ]; then mv restore.rdb dump.rdb && rm -rf appendonlydir appendonly.aof; aof=no; else aof=yes; fi',
  'exec redis-server --dir /data --appendonly "$aof" --requirepass "$REDIS_PASSWORD"',
].join('; ');

const redis: Engine = {
  name: 'redis',
  port: 6379,
  dataPath: '/data',
  scheme: 'redis',
  urlVariable: 'REDIS_URL',
  namedUser: false,
  // `redis://:pw@` (no user) makes Debian's redis-cli -u send no AUTH at all (NOAUTH); `default`
  // is the user a requirepass password belongs to, and every common client accepts it.
  urlUser: 'default',
  env: (c) => ({ REDIS_PASSWORD: c.password }),
  command: ['sh', '-c', redisStart],
  loginCheck: (c) => ({
    cmd: ['redis-cli', '--no-auth-warning', '-h', '127.0.0.1', 'ping'],
    env: { REDISCLI_AUTH: c.password },
    expect: /^PONG$/m,
  }),
  backup: (c) => ({
    cmd: [
      'sh',
      '-c',
      'f=$(mktemp) && redis-cli --no-auth-warning -h 127.0.0.1 --rdb "$f" >/dev/null && cat "$f"; s=$?; rm -f "$f"; exit $s',
    ],
    env: { REDISCLI_AUTH: c.password },
  }),
  // Loaded by the container's command on the next start (the worker restarts it).
  restore: () => ({ cmd: ['sh', '-c', 'cat > /data/restore.rdb.part && mv /data/restore.rdb.part /data/restore.rdb'] }),
  restartAfterRestore: true,
  afterRestore: (c) => ({
    cmd: ['redis-cli', '--no-auth-warning', '-h', '127.0.0.1', 'config', 'set', 'appendonly', 'yes'],
    env: { REDISCLI_AUTH: c.password },
    expect: /^OK$/m,
  }),
  backupExtension: 'rdb',
};

export const engines: Readonly<Record<string, Engine>> = Object.freeze({ postgres, mysql, redis });
export const engineNames = Object.keys(engines);

/** `<prefix>/<engine>:latest` unless GASPER_DATABASE_IMAGES names another (e.g. an official image). */
export function engineImage(
  engine: string,
  options: { imagePrefix: string; databaseImages: Record<string, string> },
): string {
  return options.databaseImages[engine] ?? `${options.imagePrefix}/${engine}:latest`;
}

/**
 * Database and user names inside the engine: the database's name with `_` for `-`, and the user
 * that with a `u_` prefix (PostgreSQL refuses role names that begin with `pg_`).
 */
export function engineIdentifiers(name: string): { database: string; user: string } {
  const id = name.replace(/-/g, '_');
  return { database: id, user: `u_${id}` };
}

/** The connection URL a client (or a linked app) uses. */
export function connectionUrl(engine: Engine, c: DatabaseCredentials, host: string, port: number): string {
  const user = engine.namedUser ? c.user : (engine.urlUser ?? '');
  const auth = `${encodeURIComponent(user)}:${encodeURIComponent(c.password)}`;
  const path = engine.namedUser ? `/${encodeURIComponent(c.database)}` : '';
  return `${engine.scheme}://${auth}@${host}:${port}${path}`;
}
