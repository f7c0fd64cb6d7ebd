import { execFileSync, spawn } from 'node:child_process';
import { chownSync, copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, type Cluster } from './postgres-cluster.ts';
import { root } from './server-process.ts';

/**
 * Debian's PgBouncer (/usr/sbin/pgbouncer, installed by .ci/run) in front of
 * a test cluster, with production's pooling policy (deploy/pgbouncer/
 * pool.ini: pool_mode=transaction, so each transaction of a client
 * connection may run on a different server session) and fewer server
 * sessions. PgBouncer refuses to run as root; it runs as the cluster's owner.
 */
export interface Bouncer {
  port: number;
  pid: number;
  url(database: string): string;
  stop(): Promise<void>;
}

const pgbouncerPath = '/usr/sbin/pgbouncer';

async function accepting(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await sleep(50);
  }
  throw new Error(`pgbouncer did not listen on ${port} within ${timeoutMs} ms`);
}

export async function startPgBouncer(cluster: Pick<Cluster, 'port'>, poolSize = 4): Promise<Bouncer> {
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }));
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }));
  const dir = mkdtempSync(join(tmpdir(), 'appgrant-pgbouncer-'));
  const port = await freePort();
  writeFileSync(join(dir, 'users.txt'), '"postgres" ""\n');
  writeFileSync(
    join(dir, 'pgbouncer.ini'),
    [
      '[databases]',
      `* = host=127.0.0.1 port=${cluster.port}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = trust',
      `auth_file = ${join(dir, 'users.txt')}`,
      `%include ${join(dir, 'pool.ini')}`,
      `default_pool_size = ${poolSize}`,
      '',
    ].join('\n'),
  );
  copyFileSync(join(root, 'deploy', 'pgbouncer', 'pool.ini'), join(dir, 'pool.ini'));
  chownSync(dir, uid, gid);
  for (const file of ['users.txt', 'pgbouncer.ini', 'pool.ini']) chownSync(join(dir, file), uid, gid);
  const child = spawn(pgbouncerPath, [join(dir, 'pgbouncer.ini')], { uid, gid, stdio: ['ignore', 'ignore', 'pipe'] });
  let output = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output = (output + chunk).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await accepting(port, 10_000);
  } catch (error) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`${(error as Error).message}\n${output}`, { cause: error });
  }
  return {
    port,
    pid: child.pid!,
    url: (database) => `postgres://postgres@127.0.0.1:${port}/${database}`,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(killer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
