import { request } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/postgres-cluster.ts';
import { killAllServers, spawnServer, type ServerProcess } from '../support/server-process.ts';

/**
 * Start-up and shutdown windows of one server process on the embedded
 * database: nothing accepted goes unanswered while it starts; on SIGTERM it
 * drains, finishes what is in flight and exits in time, even when its log
 * output is gone or stuck.
 */
const drainSeconds = 2;
const graceSeconds = 4;
/** The latest a stopping server may exit: drain, grace, one second of margin (main.ts), and the machine's slack. */
const exitWithinMs = (drainSeconds + graceSeconds + 1) * 1000 + 1500;

type Outcome = { kind: 'answered'; status: number; retryAfter: string | null } | { kind: 'refused' } | { kind: 'failed'; error: string };

/** One request with a time limit: answered (any status), refused (nothing listening), or failed (reset, hung). */
async function attempt(url: string, init: RequestInit = {}): Promise<Outcome> {
  try {
    const response = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
    await response.arrayBuffer();
    return { kind: 'answered', status: response.status, retryAfter: response.headers.get('retry-after') };
  } catch (error) {
    const code = ((error as Error).cause as { code?: string } | undefined)?.code;
    return code === 'ECONNREFUSED' ? { kind: 'refused' } : { kind: 'failed', error: `${(error as Error).name}: ${code ?? (error as Error).message}` };
  }
}

describe('start-up and shutdown of a server process (embedded database)', () => {
  let dataDir = '';
  let port = 0;
  let base = '';
  const env = () => ({ DATA_DIR: dataDir, PORT: String(port), ISSUER: base, SHUTDOWN_DRAIN: String(drainSeconds), SHUTDOWN_GRACE: String(graceSeconds) });

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'appgrant-faults-'));
    port = await freePort();
    base = `http://127.0.0.1:${port}`;
  });

  afterAll(async () => {
    await killAllServers();
    await rm(dataDir, { recursive: true, force: true });
  });

  let server: ServerProcess;

  it('refuses deadlines and a drain it cannot keep, naming each setting (exit code 2)', async () => {
    const refused = spawnServer({ ...env(), DATABASE_STATEMENT_TIMEOUT_MS: '50', DATABASE_CONNECT_TIMEOUT_MS: 'soon', DATABASE_ACQUIRE_TIMEOUT_MS: '0', SHUTDOWN_DRAIN: '-1' });
    const exit = await refused.exited;
    expect(exit.code).toBe(2);
    for (const name of ['DATABASE_STATEMENT_TIMEOUT_MS', 'DATABASE_CONNECT_TIMEOUT_MS', 'DATABASE_ACQUIRE_TIMEOUT_MS', 'SHUTDOWN_DRAIN']) {
      expect(refused.output()).toContain(name);
    }
  });

  it('no connection accepted during start-up is left unanswered: refused until the port is taken, then 503 with Retry-After until ready', { timeout: 120_000 }, async () => {
    // A first start: the data folder is created, migrated and seeded with the demo, which takes a while.
    server = spawnServer({ ...env(), SEED_DEMO: 'true' }, { readyWithinMs: 100_000 });
    let ready = false;
    void server.ready.then(() => (ready = true));
    const outcomes: Outcome[] = [];
    const probes: Array<Promise<void>> = [];
    while (!ready) {
      for (const path of ['/readyz', '/v2/apps', '/oauth/token', '/dashboard']) {
        probes.push(attempt(`${base}${path}`, path === '/oauth/token' ? { method: 'POST' } : {}).then((outcome) => void outcomes.push(outcome)));
      }
      await Promise.race([sleep(50), server.ready.catch(() => undefined)]);
    }
    await Promise.all(probes);
    const failed = outcomes.filter((outcome) => outcome.kind === 'failed');
    const answered = outcomes.filter((outcome) => outcome.kind === 'answered');
    expect(outcomes.length, 'requests were sent all through start-up').toBeGreaterThan(20);
    expect(failed, 'no request was reset or left hanging').toEqual([]);
    for (const outcome of answered) {
      if (outcome.status === 503) expect(Number(outcome.retryAfter)).toBeGreaterThan(0);
      else expect(outcome.status).toBeLessThan(500);
    }
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
  });

  it('SIGTERM: /readyz says 503 while requests are still served, then new connections are refused, the request in flight is answered, and the process exits', { timeout: 60_000 }, async () => {
    // A request in flight: its body arrives slowly, across the whole drain.
    const body = 'grant_type=client_credentials&client_id=nobody&padding=' + 'x'.repeat(64);
    const inFlight = request(`${base}/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) } });
    const answer = new Promise<number>((resolve, reject) => {
      inFlight.on('response', (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      });
      inFlight.on('error', reject);
    });
    inFlight.write(body.slice(0, 20));
    await sleep(200);

    const stopped = server.stop('SIGTERM', 20_000);
    await sleep(500);
    expect(await attempt(`${base}/readyz`)).toMatchObject({ kind: 'answered', status: 503 });
    expect(await attempt(`${base}/healthz`)).toMatchObject({ kind: 'answered', status: 200 });
    expect(await attempt(`${base}/v2/apps`)).toMatchObject({ kind: 'answered', status: 401 });

    await sleep(drainSeconds * 1000);
    expect(await attempt(`${base}/healthz`), 'after the drain nothing new is taken').toEqual({ kind: 'refused' });
    inFlight.end(body.slice(20));
    expect(await answer, 'the request in flight is answered').toBeLessThan(500);

    const exit = await stopped;
    expect(exit.code, server.output()).toBe(0);
    expect(exit.ms).toBeLessThan(exitWithinMs);
  });

  it('exits in time when its log output is closed', { timeout: 120_000 }, async () => {
    server = spawnServer(env());
    await server.ready;
    server.child.stdout!.destroy();
    server.child.stderr!.destroy();
    for (let i = 0; i < 50; i += 1) expect((await attempt(`${base}/healthz`)).kind).toBe('answered');
    const exit = await server.stop('SIGTERM', 30_000);
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(exit.ms).toBeLessThan(exitWithinMs);
  });

  it('exits in time when its log output is stuck (a reader that stopped reading)', { timeout: 120_000 }, async () => {
    server = spawnServer(env());
    await server.ready;
    server.child.stdout!.pause();
    server.child.stderr!.pause();
    // Enough request log lines to fill the pipe several times over; the server keeps answering.
    const padding = 'p'.repeat(400);
    for (let round = 0; round < 40; round += 1) {
      const outcomes = await Promise.all(Array.from({ length: 20 }, () => attempt(`${base}/healthz?${padding}`)));
      for (const outcome of outcomes) expect(outcome.kind).toBe('answered');
    }
    const exit = await server.stop('SIGTERM', 30_000);
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(exit.ms).toBeLessThan(exitWithinMs);
  });
});
