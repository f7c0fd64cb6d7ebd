import { TokenQueue, type CodeMinter } from './codes.ts';
import { ProofQueue, type DpopKey } from './dpop.ts';
import { addToApp, basicAuthorization, codeExchangeBody, refreshBody, type Owner, type Partner } from './flow-client.ts';
import { runFlowLoad, runHttpLoad, type HttpLoad, type Measurement, type Target } from './load.ts';
import type { CpuMeter, CpuUsage } from './cpu.ts';
import type { Child } from './processes.ts';

export interface Shape {
  durationSec: number;
  warmupSec: number;
  connections: number;
  flowWorkers: number;
  /** The measured time of every contender is cut into this many slices, taken in turn. */
  rounds: number;
}

/** CLOCK_MONOTONIC in microseconds, the clock of V8's CPU profiles (and of process.hrtime) on Linux. */
const monotonicMicros = () => Number(process.hrtime.bigint() / 1000n);

const megabytes = (bytes: number | undefined) => (bytes === undefined ? undefined : Math.round((bytes / 1024 / 1024) * 10) / 10);

export type Progress = (line: string) => void;

/** The process under test and how to watch it. */
export interface Probe {
  child: Child;
  meter: CpuMeter;
  progress: Progress;
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

/** One side of a side-by-side measurement: a process under test and how to load it for a while. */
export interface Contender {
  probe: Probe;
  run: (durationSec: number) => Promise<Measurement>;
  /** Called before the warm-up (with nothing) and after it (with its result), e.g. to mint codes for what follows. */
  prepare?: (warmup: Measurement | undefined, nextSec: number) => Promise<void>;
  /** Called before each measured round (not timed), e.g. to make fresh DPoP proofs. */
  beforeRound?: (roundSec: number) => void;
  /** Notes for the combined result, asked for at the end. */
  notes?: () => string[];
}

const sum = (values: number[]) => values.reduce((total, value) => total + value, 0);
const round = (value: number, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits;

/**
 * A contender's slices as one measurement. Counts add up; CPU is averaged
 * over the slices' time; p50 and mean are averaged weighted by requests;
 * p99 and max are the worst slice's (percentiles of separate runs cannot be
 * merged exactly, and this errs on the slow side).
 */
function combine(slices: Measurement[]): Measurement {
  const first = slices[0]!;
  const durationSec = sum(slices.map((slice) => slice.durationSec));
  const completed = sum(slices.map((slice) => slice.completed));
  const weighted = (value: (slice: Measurement) => number) => (completed ? sum(slices.map((slice) => value(slice) * slice.completed)) / completed : 0);
  const statusCounts: Record<string, number> = {};
  for (const slice of slices) for (const [status, count] of Object.entries(slice.statusCounts)) statusCounts[status] = (statusCounts[status] ?? 0) + count;
  const cpuSlices = slices.filter((slice) => slice.cpu);
  const cpuTime = sum(cpuSlices.map((slice) => slice.durationSec));
  const cpuAverage = (field: keyof CpuUsage) => round(sum(cpuSlices.map((slice) => slice.cpu![field] * slice.durationSec)) / cpuTime);
  return {
    ...first,
    durationSec: round(durationSec),
    completed,
    perSecond: round(completed / durationSec, 1),
    latencyMs: {
      p50: round(weighted((slice) => slice.latencyMs.p50), 1),
      p99: Math.max(...slices.map((slice) => slice.latencyMs.p99)),
      mean: round(weighted((slice) => slice.latencyMs.mean)),
      max: Math.max(...slices.map((slice) => slice.latencyMs.max)),
    },
    non2xx: sum(slices.map((slice) => slice.non2xx)),
    unexpected: sum(slices.map((slice) => slice.unexpected)),
    errors: sum(slices.map((slice) => slice.errors)),
    timeouts: sum(slices.map((slice) => slice.timeouts)),
    mismatches: sum(slices.map((slice) => slice.mismatches)),
    statusCounts,
    ...(cpuTime
      ? { cpu: { machine: cpuAverage('machine'), target: cpuAverage('target'), targetKernel: cpuAverage('targetKernel'), postgres: cpuAverage('postgres'), bench: cpuAverage('bench'), other: cpuAverage('other') } }
      : {}),
    notes: [...new Set(slices.flatMap((slice) => slice.notes))],
    windows: slices.flatMap((slice) => slice.windows ?? []),
  };
}

/**
 * Measures contenders side by side. Each warms up (not recorded; the JIT,
 * the pools and the caches get warm), then the measured time is cut into
 * rounds taken in turn (A B C, A B C, …): a machine whose speed drifts
 * during the run (other work, a throttled host) then weighs on every side
 * of a ratio alike. Peak RSS is each process's over all of it, warm-up
 * included.
 */
export async function measureSideBySide(contenders: Contender[], shape: Shape): Promise<Measurement[]> {
  const slices = contenders.map((): Measurement[] => []);
  for (const contender of contenders) {
    contender.probe.child.resetPeakRss();
    await contender.prepare?.(undefined, shape.warmupSec);
    const warmup = shape.warmupSec > 0 ? await contender.run(shape.warmupSec) : undefined;
    await contender.prepare?.(warmup, shape.durationSec);
  }
  const sliceSec = shape.durationSec / shape.rounds;
  for (let roundIndex = 0; roundIndex < shape.rounds; roundIndex += 1) {
    for (const [index, contender] of contenders.entries()) {
      contender.beforeRound?.(sliceSec);
      const before = contender.probe.meter.snapshot(contender.probe.child.pid);
      const fromUs = monotonicMicros();
      const slice = await contender.run(sliceSec);
      slice.windows = [{ fromUs, toUs: monotonicMicros() }];
      slice.cpu = contender.probe.meter.usage(before, contender.probe.child.pid);
      slices[index]!.push(slice);
    }
  }
  return contenders.map((contender, index) => {
    const measurement = combine(slices[index]!);
    measurement.peakRssMB = megabytes(contender.probe.child.peakRss());
    measurement.notes.push(...(contender.notes?.() ?? []));
    announce(contender.probe.progress, measurement);
    return measurement;
  });
}

/** An HTTP load as a contender. */
export function httpContender(load: HttpLoad, connections: number, probe: Probe): Contender {
  return { probe, run: (durationSec) => runHttpLoad(load, { durationSec, connections }) };
}

export interface CodeExchangeTarget {
  target: Target;
  base: string;
  partner: Partner;
  redirectUri: string;
  minter: CodeMinter;
}

/** Codes (or refresh tokens) minted per second of run before the warm-up says how fast the target really is. */
const initialMintRate = 2000;

/** Enough of something per second for a run: 3× the warm-up's rate, at least `floor`/s, plus a margin per connection. */
function aheadFor(warmup: Measurement | undefined, nextSec: number, connections: number, floor: number): number {
  return Math.ceil(Math.max(3 * (warmup?.perSecond ?? 0), floor) * nextSec) + connections * 4;
}

/**
 * POST /oauth/token with client_secret_basic, one fresh single-use token
 * (a code, or a refresh token) per request. Tokens for the warm-up are minted
 * first at an assumed 2000/s; the measured rounds then get 2000/s or three
 * times the warm-up's rate, whichever is more, all minted before they start
 * so minting never competes with the measurement.
 */
function tokenRequestContender(
  name: string,
  target: CodeExchangeTarget,
  body: (token: string) => string,
  connections: number,
  probe: Probe,
): Contender {
  const queue = new TokenQueue();
  let minted = 0;
  const load: HttpLoad = {
    name,
    target: target.target,
    base: target.base,
    method: 'POST',
    path: '/oauth/token',
    headers: { authorization: basicAuthorization(target.partner.id, target.partner.secret) },
    bodyFor: () => body(queue.next()),
    expectedStatus: 200,
    verifyBody: (answer) => answer.includes('"access_token"'),
  };
  return {
    probe,
    run: (durationSec) => runHttpLoad(load, { durationSec, connections }),
    prepare: async (warmup, nextSec) => {
      const count = aheadFor(warmup, nextSec, connections, initialMintRate) - queue.size;
      if (count > 0) {
        const started = performance.now();
        queue.add(await target.minter.mint(count));
        minted += count;
        probe.progress(`  ${target.target}: minted ${count} for ${name}, ${nextSec} s, in ${Math.round(performance.now() - started)} ms`);
      }
      // Running short during the warm-up is harmless; only the measured rounds count.
      if (warmup) queue.exhausted = 0;
    },
    notes: () => [`${minted} minted, ${queue.size} left unused`, ...(queue.exhausted ? [`ran out: ${queue.exhausted} requests carried a bogus one`] : [])],
  };
}

/** grant_type=authorization_code, one fresh code per request (the minter mints codes). */
export function codeExchangeContender(target: CodeExchangeTarget, connections: number, probe: Probe): Contender {
  return tokenRequestContender('code exchange', target, (code) => codeExchangeBody(code, target.redirectUri), connections, probe);
}

/** grant_type=refresh_token, one fresh refresh token per request (the minter mints refresh tokens). */
export function refreshContender(target: CodeExchangeTarget, connections: number, probe: Probe): Contender {
  return tokenRequestContender('refresh', target, refreshBody, connections, probe);
}

export interface DpopReadTarget {
  target: Target;
  base: string;
  /** The issuer the proofs name (htu), which may differ from `base`. */
  issuer: string;
  appId: string;
  accessToken: string;
  key: DpopKey;
}

/** Proofs made per second of round before the warm-up says how fast the target really is. */
const initialProofRate = 3000;

/**
 * GET /v2/apps/{appId} with `Authorization: DPoP <token>` and a fresh proof
 * per request, made before each round for the whole round.
 */
export function dpopReadContender(target: DpopReadTarget, connections: number, probe: Probe): Contender {
  const url = `${target.issuer}/v2/apps/${target.appId}`;
  const proofs = new ProofQueue(() => target.key.proof('GET', url, target.accessToken));
  let rate = initialProofRate;
  const load: HttpLoad = {
    ...appReadLoad('GET /v2/apps/{id} DPoP', target.target, target.base, target.appId, `DPoP ${target.accessToken}`),
    headersFor: () => ({ dpop: proofs.next() }),
  };
  return {
    probe,
    run: (durationSec) => runHttpLoad(load, { durationSec, connections }),
    prepare: async (warmup, nextSec) => {
      if (warmup) {
        rate = Math.max(3 * warmup.perSecond, initialProofRate);
        proofs.madeLate = 0;
      } else {
        proofs.refill(aheadFor(undefined, nextSec, connections, rate));
      }
    },
    beforeRound: (roundSec) => proofs.refill(aheadFor(undefined, roundSec, connections, rate)),
    notes: () => (proofs.madeLate ? [`proofs ran out: ${proofs.madeLate} made during the measured rounds`] : []),
  };
}

export interface IntrospectionTarget {
  target: Target;
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
export function appReadLoad(name: string, target: Target, base: string, appId: string, authorization?: string): HttpLoad {
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
export function flowContender(targets: FlowTargets, workers: number, probe: Probe): Contender {
  const load = {
    name: 'add-to-app flow',
    workers: Math.min(workers, targets.owners.length),
    flow: async (worker: number) => {
      const { requests } = await addToApp({ base: targets.base, partner: targets.partner, redirectUri: targets.redirectUri, owner: targets.owners[worker]! });
      return requests;
    },
  };
  return { probe, run: (durationSec) => runFlowLoad(load, durationSec) };
}
