import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demo } from '../../src/server/demo.ts';
import { logInToDashboard, ownerCookie } from '../support/owner-web.ts';
import { freePort } from '../support/postgres-cluster.ts';
import { childrenOf, killAllServers, spawnServer } from '../support/server-process.ts';

/**
 * The embedded database's server killed with kill -9: in the middle of
 * writes, and as PID 1 (as in the container image), where the PID in the
 * lock it leaves is alive again, as the next server's own.
 */
describe('the embedded database after kill -9', () => {
  let dataDir = '';
  let base = '';
  let env: Record<string, string> = {};

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'appgrant-faults-'));
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    env = { DATA_DIR: dataDir, PORT: String(port), ISSUER: base, SEED_DEMO: 'true' };
  });

  afterAll(async () => {
    await killAllServers();
    await rm(dataDir, { recursive: true, force: true });
  });

  const dashboardStatus = async (session: string) =>
    (await fetch(`${base}/dashboard`, { headers: { accept: 'text/html', cookie: `${ownerCookie}=${session}` }, redirect: 'manual' })).status;

  it('nothing acknowledged is lost when the server is killed in the middle of writes', { timeout: 150_000 }, async () => {
    const server = spawnServer(env, { readyWithinMs: 100_000 });
    await server.ready;
    // Logins write a dashboard session each; a session cookie in hand means the write was acknowledged.
    const acknowledged: string[] = [];
    let killed = false;
    const worker = async () => {
      while (!killed) {
        try {
          acknowledged.push((await logInToDashboard(base, demo)).sessionCookie);
        } catch {
          // Cut off by the kill: not acknowledged, nothing to find afterwards.
        }
      }
    };
    const workers = [worker(), worker(), worker()];
    while (acknowledged.length < 6) await sleep(20);
    server.child.kill('SIGKILL');
    killed = true;
    await Promise.all([server.exited, ...workers]);

    const restarted = spawnServer(env, { readyWithinMs: 100_000 });
    await restarted.ready;
    const statuses = await Promise.all(acknowledged.map(dashboardStatus));
    expect(statuses).toEqual(acknowledged.map(() => 200));
    expect((await restarted.stop()).code).toBe(0);
  });

  it('a lock left by a server that was PID 1 does not keep the next one from starting', { timeout: 150_000 }, async () => {
    // A PID namespace of its own: the server is PID 1 in it, as in a container.
    const asPidOne = ['unshare', '--pid', '--fork', '--mount-proc'];
    const first = spawnServer(env, { prefix: asPidOne, readyWithinMs: 100_000 });
    await first.ready;
    expect(JSON.parse(await readFile(join(dataDir, 'appgrant.lock'), 'utf8'))).toMatchObject({ pid: 1 });
    const session = (await logInToDashboard(base, demo)).sessionCookie;
    for (const server of childrenOf(first.child.pid!)) process.kill(server, 'SIGKILL');
    await first.exited;
    expect(JSON.parse(await readFile(join(dataDir, 'appgrant.lock'), 'utf8')), 'the lock is left behind').toMatchObject({ pid: 1 });

    const second = spawnServer(env, { prefix: asPidOne, readyWithinMs: 100_000 });
    await second.ready;
    expect(await dashboardStatus(session)).toBe(200);
    for (const server of childrenOf(second.child.pid!)) process.kill(server, 'SIGTERM');
    expect((await second.exited).code).toBe(0);
  });
});
