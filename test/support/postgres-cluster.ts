import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { childrenOf } from './server-process.ts';

/**
 * A PostgreSQL cluster of a test's own, made with the machine's
 * postgresql-common tools (pg_createcluster), so that a test can stop and
 * freeze it without touching the shared server on 5432. Run as root (CI
 * is); the cluster belongs to the postgres user, with trust authentication
 * on loopback, and is dropped by drop().
 */
export interface Cluster {
  port: number;
  /** A connection URL for one of its databases (postgres by default), as the superuser. */
  url(database?: string): string;
  start(): Promise<void>;
  /** A fast shutdown: sessions are terminated, new connections refused. */
  stop(): Promise<void>;
  /** SIGSTOP to the postmaster and every backend: connections open, nothing answers. */
  freeze(): void;
  thaw(): void;
  drop(): Promise<void>;
}

const run = promisify(execFile);
const namePrefix = 'appgrant_faults_';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Clusters left by a test process that died before its clean-up (their names carry its PID). */
async function dropAbandonedClusters(version: string): Promise<void> {
  const { stdout } = await run('pg_lsclusters', ['--no-header']);
  for (const line of stdout.split('\n')) {
    const [clusterVersion, name] = line.trim().split(/\s+/);
    if (clusterVersion !== version || !name?.startsWith(namePrefix)) continue;
    const pid = Number(name.slice(namePrefix.length).split('_')[0]);
    if (!isAlive(pid)) await run('pg_dropcluster', ['--stop', version, name]).catch(() => undefined);
  }
}

export async function createCluster(): Promise<Cluster> {
  const version = readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a))[0]!;
  await dropAbandonedClusters(version);
  const name = `${namePrefix}${process.pid}_${randomBytes(3).toString('hex')}`;
  const port = await freePort();
  await run('pg_createcluster', [
    version,
    name,
    '--port',
    String(port),
    '--start-conf=manual',
    '--quiet',
    ...['fsync=off', 'shared_buffers=16MB', 'max_connections=80'].flatMap((option) => ['-o', option]),
    '--',
    '--auth=trust',
  ]);
  const dataDir = `/var/lib/postgresql/${version}/${name}`;
  const postmaster = () => Number(readFileSync(`${dataDir}/postmaster.pid`, 'utf8').split('\n')[0]);
  const signalAll = (signal: NodeJS.Signals) => {
    const main = postmaster();
    process.kill(main, signal);
    for (const child of childrenOf(main)) process.kill(child, signal);
  };
  const cluster: Cluster = {
    port,
    url: (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`,
    start: async () => {
      await run('pg_ctlcluster', [version, name, 'start']);
    },
    stop: async () => {
      await run('pg_ctlcluster', [version, name, 'stop', '--mode', 'fast']);
    },
    freeze: () => signalAll('SIGSTOP'),
    thaw: () => signalAll('SIGCONT'),
    drop: async () => {
      try {
        cluster.thaw();
      } catch {
        // Not running.
      }
      await run('pg_dropcluster', ['--stop', version, name]);
    },
  };
  try {
    await cluster.start();
  } catch (error) {
    await run('pg_dropcluster', ['--stop', version, name]).catch(() => undefined);
    throw error;
  }
  return cluster;
}
