import { CodeQueue, type CodeMinter } from './codes.ts';
import { addToApp, basicAuthorization, codeExchangeBody, type Owner, type Partner } from './flow-client.ts';
import { runFlowLoad, runHttpLoad, type HttpLoad, type Measurement } from './load.ts';
import type { CpuMeter } from './cpu.ts';
import type { Child } from './processes.ts';

export interface Shape {
  durationSec: number;
  warmupSec: number;
  connections: number;
  flowWorkers: number;
}

const megabytes = (bytes: number | undefined) => (bytes === undefined ? undefined : Math.round((bytes / 1024 / 1024) * 10) / 10);

export type Progress = (line: string) => void;

/** The process under test and how to watch it. */
export interface Probe {
  child: Child;
  meter: CpuMeter;
  progress: Progress;
}

/** Runs the measured part with the CPU meter around it and the peak RSS read after it. */
async function measured(probe: Probe, run: () => Promise<Measurement>): Promise<Measurement> {
  const before = probe.meter.snapshot(probe.child.pid);
  const measurement = await run();
  measurement.cpu = probe.meter.usage(before, probe.child.pid);
  measurement.peakRssMB = megabytes(probe.child.peakRss());
  announce(probe.progress, measurement);
  return measurement;
}

function announce(progress: Progress, measurement: Measurement): void {
  const rss = measurement.peakRssMB === undefined ? '' : `, peak RSS ${measurement.peakRssMB} MB`;
  const cpu = measurement.cpu;
  const cores = cpu ? `, cores: ${measurement.target} ${cpu.target} pg ${cpu.postgres} bench ${cpu.bench} other ${cpu.other}` : '';
  progress(
    `  ${measurement.target} ${measurement.name}: ${measurement.perSecond}/s, p50 ${measurement.latencyMs.p50} ms, ` +
      `p99 ${measurement.latencyMs.p99} ms, ${measurement.completed} done, ${measurement.unexpected} unexpected${rss}${cores}`,
  );
}

/**
 * One scenario: a warm-up at the same load (not recorded; the JIT, the
 * connection pool and the client-secret cache get warm), then the measured
 * run. The peak RSS of the process under test covers both.
 */
export async function measureHttp(load: HttpLoad, shape: Shape, probe: Probe): Promise<Measurement> {
  probe.child.resetPeakRss();
  if (shape.warmupSec > 0) await runHttpLoad(load, { durationSec: shape.warmupSec, connections: shape.connections });
  return measured(probe, () => runHttpLoad(load, { durationSec: shape.durationSec, connections: shape.connections }));
}

export interface CodeExchangeTarget {
  target: Measurement['target'];
  base: string;
  partner: Partner;
  redirectUri: string;
  minter: CodeMinter;
}

/** Codes minted per second of run before the warm-up says how fast the target really is. */
const initialMintRate = 2000;

/**
 * POST /oauth/token, authorization_code with client_secret_basic, one
 * fresh code per request. Codes for the warm-up are minted first at an
 * assumed 2000/s; the measured run then gets 2000/s or three times the
 * warm-up's rate, whichever is more, for its duration, all minted before it
 * starts so minting never competes with the measurement.
 */
export async function measureCodeExchange(target: CodeExchangeTarget, shape: Shape, probe: Probe): Promise<Measurement> {
  const queue = new CodeQueue();
  const load: HttpLoad = {
    name: 'code exchange',
    target: target.target,
    base: target.base,
    method: 'POST',
    path: '/oauth/token',
    headers: { authorization: basicAuthorization(target.partner.id, target.partner.secret) },
    bodyFor: () => codeExchangeBody(queue.next(), target.redirectUri),
    expectedStatus: 200,
    verifyBody: (body) => body.includes('"access_token"'),
  };
  probe.child.resetPeakRss();
  let minted = 0;
  const mint = async (count: number) => {
    const started = performance.now();
    queue.add(await target.minter.mint(count));
    minted += count;
    probe.progress(`  ${target.target}: minted ${count} codes in ${Math.round(performance.now() - started)} ms`);
  };
  let warmRate = 0;
  if (shape.warmupSec > 0) {
    await mint(Math.ceil(initialMintRate * shape.warmupSec) + shape.connections * 2);
    const warm = await runHttpLoad(load, { durationSec: shape.warmupSec, connections: shape.connections });
    warmRate = warm.perSecond;
  }
  const needed = Math.ceil(Math.max(3 * warmRate, initialMintRate) * shape.durationSec) + shape.connections * 4;
  if (needed > queue.size) await mint(needed - queue.size);
  queue.exhausted = 0;
  const measurement = await measured(probe, () => runHttpLoad(load, { durationSec: shape.durationSec, connections: shape.connections }));
  measurement.notes.push(`${minted} codes minted, ${queue.size} left unused`);
  if (queue.exhausted) measurement.notes.push(`codes ran out: ${queue.exhausted} requests carried a bogus code`);
  return measurement;
}

export interface IntrospectionTarget {
  target: Measurement['target'];
  base: string;
  client: Partner;
  accessToken: string;
}

/** POST /oauth/introspect of one live access token; every answer must say active: true. */
export function introspectionLoad(target: IntrospectionTarget): HttpLoad {
  return {
    name: 'introspection',
    target: target.target,
    base: target.base,
    method: 'POST',
    path: '/oauth/introspect',
    headers: { authorization: basicAuthorization(target.client.id, target.client.secret) },
    body: new URLSearchParams({ token: target.accessToken, token_type_hint: 'access_token' }).toString(),
    expectedStatus: 200,
    verifyBody: (body) => body.includes('"active":true'),
  };
}

/** GET /v2/apps/{appId}, with an Authorization header or none. */
export function appReadLoad(name: string, target: Measurement['target'], base: string, appId: string, authorization?: string): HttpLoad {
  return {
    name,
    target,
    base,
    method: 'GET',
    path: `/v2/apps/${appId}`,
    headers: authorization ? { authorization } : {},
    expectedStatus: 200,
    verifyBody: (body) => body.includes(appId),
  };
}

/** POST /login on the dashboard with the correct password; 303 to /dashboard means logged in. */
export function loginLoad(base: string, cookie: string, csrfToken: string, owner: Owner): HttpLoad {
  return {
    name: 'dashboard login',
    target: 'appgrant',
    base,
    method: 'POST',
    path: '/login',
    headers: { cookie },
    body: new URLSearchParams({ _csrf: csrfToken, email: owner.email, password: owner.password }).toString(),
    expectedStatus: 303,
  };
}

export interface FlowTargets {
  base: string;
  partner: Partner;
  redirectUri: string;
  /** One per worker, each with exactly one app. */
  owners: Owner[];
}

/** Whole "Add to app" dances (authorize, login, consent, code, token) back to back, one owner per worker. */
export async function measureFlows(targets: FlowTargets, shape: Shape, probe: Probe): Promise<Measurement> {
  const workers = Math.min(shape.flowWorkers, targets.owners.length);
  const load = {
    name: 'add-to-app flow',
    workers,
    flow: async (worker: number) => {
      const { requests } = await addToApp({ base: targets.base, partner: targets.partner, redirectUri: targets.redirectUri, owner: targets.owners[worker]! });
      return requests;
    },
  };
  probe.child.resetPeakRss();
  if (shape.warmupSec > 0) await runFlowLoad(load, shape.warmupSec);
  return measured(probe, () => runFlowLoad(load, shape.durationSec));
}
