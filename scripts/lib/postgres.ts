import { execFile } from 'node:child_process';
import { constants, existsSync, readdirSync } from 'node:fs';
import { access, chmod, chown, mkdir, readdir, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { assertPortFree, findFreePort } from './free-port.js';
import type { ManagedChild, OutputStream } from './managed-child.js';
import { describeExit, startChild, tail } from './managed-child.js';

const exec = promisify(execFile);

export interface PostgresOptions {
  /** The data directory; initialised on first use, reused afterwards. */
  dataDir: string;
  /** A free one when omitted. */
  port?: number;
  startTimeoutMs?: number;
  onLine?: (line: string, stream: OutputStream) => void;
  detached?: boolean;
}

export interface Postgres {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** The superuser; local TCP connections are trusted (the server listens on loopback only). */
  readonly user: 'postgres';
  readonly dataDir: string;
  readonly pid: number;
  /** Fast shutdown (SIGINT: open sessions are ended), SIGKILL after a deadline. */
  stop(): Promise<void>;
  logs(): string;
}

/** Debian's `postgresql` package: the newest /usr/lib/postgresql/<major>/bin, or SNAPKEEPER_POSTGRES_BIN. */
export function postgresBinDir(): string {
  const fromEnv = process.env.SNAPKEEPER_POSTGRES_BIN;
  if (fromEnv) return fromEnv;
  const root = '/usr/lib/postgresql';
  const majors = existsSync(root)
    ? readdirSync(root)
        .filter((v) => /^\d+$/.test(v) && existsSync(join(root, v, 'bin', 'postgres')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (majors.length === 0) {
    throw new Error(
      'PostgreSQL is not installed (no /usr/lib/postgresql/<version>/bin/postgres): apt-get install postgresql, or set SNAPKEEPER_POSTGRES_BIN',
    );
  }
  return join(root, majors[0] as string, 'bin');
}

/**
 * A private PostgreSQL (own data directory and port, loopback only, no Unix socket) run as a child
 * of this process rather than daemonised with pg_ctl, so it is stopped with its owner and its log
 * is at hand when something fails. As root it runs as the `postgres` user, which PostgreSQL requires.
 */
export async function startPostgres(options: PostgresOptions): Promise<Postgres> {
  const bin = postgresBinDir();
  const dataDir = resolve(options.dataDir);
  const owner = await runAsOwner(dataDir);
  if (!existsSync(join(dataDir, 'PG_VERSION'))) await initdb(bin, dataDir, owner);

  const port = options.port ?? (await findFreePort());
  await assertPortFree(port);
  let ready = false;
  let markReady: () => void = () => undefined;
  const readyLine = new Promise<void>((resolveReady) => (markReady = resolveReady));
  const child: ManagedChild = await startChild({
    name: 'postgres',
    command: join(bin, 'postgres'),
    args: [
      '-D',
      dataDir,
      '-p',
      String(port),
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'unix_socket_directories=',
      // Each Temporal service keeps its own pools (20 + 10 connections); four services in one
      // process exceed the default 100.
      '-c',
      'max_connections=200',
    ],
    ...(owner ? { uid: owner.uid, gid: owner.gid } : {}),
    detached: options.detached ?? false,
    onLine(line, stream) {
      if (!ready && line.includes('database system is ready to accept connections')) {
        ready = true;
        markReady();
      }
      options.onLine?.(line, stream);
    },
  });

  const timeoutMs = options.startTimeoutMs ?? 60_000;
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    readyLine.then(() => 'ready' as const),
    child.exited,
    new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs))),
  ]).finally(() => clearTimeout(timer));
  if (outcome !== 'ready') {
    await child.stop({ signal: 'SIGINT', timeoutMs: 5_000 });
    const why = outcome === 'timeout' ? `not ready within ${timeoutMs} ms` : describeExit(outcome);
    throw new Error(`postgres on 127.0.0.1:${port} ${why}:\n${tail(child.logs())}`);
  }

  return {
    host: '127.0.0.1',
    port,
    user: 'postgres',
    dataDir,
    pid: child.pid,
    async stop() {
      await child.stop({ signal: 'SIGINT', timeoutMs: 30_000 });
    },
    logs: () => child.logs(),
  };
}

interface Owner {
  uid: number;
  gid: number;
}

/** As root: the `postgres` user, owning the data directory, which it must be able to reach. */
async function runAsOwner(dataDir: string): Promise<Owner | undefined> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  if (process.getuid?.() !== 0) return undefined;
  let owner: Owner;
  try {
    const [{ stdout: uid }, { stdout: gid }] = await Promise.all([
      exec('id', ['-u', 'postgres']),
      exec('id', ['-g', 'postgres']),
    ]);
    owner = { uid: Number(uid.trim()), gid: Number(gid.trim()) };
  } catch {
    throw new Error(
      'running as root, but there is no `postgres` user to run PostgreSQL as (apt-get install postgresql)',
    );
  }
  await chownTree(dataDir, owner);
  await chmod(dataDir, 0o700);
  // Every directory above the data directory must let the postgres user pass.
  for (let dir = dirname(dataDir); dir !== dirname(dir); dir = dirname(dir)) {
    const info = await stat(dir);
    if ((info.mode & 0o001) === 0) {
      throw new Error(
        `PostgreSQL runs as the postgres user and cannot reach ${dataDir}: ${dir} is not searchable by others (chmod o+x ${dir}, or choose a data directory elsewhere, e.g. under /tmp)`,
      );
    }
  }
  return owner;
}

async function chownTree(path: string, owner: Owner): Promise<void> {
  await chown(path, owner.uid, owner.gid);
  const info = await stat(path);
  if (!info.isDirectory()) return;
  for (const entry of await readdir(path)) await chownTree(join(path, entry), owner);
}

async function initdb(bin: string, dataDir: string, owner: Owner | undefined): Promise<void> {
  await access(join(bin, 'initdb'), constants.X_OK);
  await new Promise<void>((resolveDone, reject) => {
    execFile(
      join(bin, 'initdb'),
      [
        '-D',
        dataDir,
        '-U',
        'postgres',
        '--auth=trust',
        '--encoding=UTF8',
        '--no-locale',
        '--no-instructions',
      ],
      { ...(owner ? { uid: owner.uid, gid: owner.gid } : {}), env: { ...process.env, LC_ALL: 'C' } },
      (err, _stdout, stderr) =>
        err ? reject(new Error(`initdb -D ${dataDir} failed: ${err.message}\n${stderr}`)) : resolveDone(),
    );
  });
}
