import autocannon from 'autocannon';
import type { CpuUsage } from './cpu.ts';

/** Who answers: appgrant or a baseline, on PostgreSQL directly or through PgBouncer (`--pgbouncer`). */
export type Target =
  | 'appgrant'
  | 'appgrant via PgBouncer'
  | 'bare-oidc'
  | 'peer-oidc'
  | 'peer-oidc via PgBouncer'
  | 'bare-koa'
  | 'unauthenticated-api';

/** One measured scenario, appgrant's or a baseline's. */
export interface Measurement {
  name: string;
  /** 'http': autocannon, one request per unit; 'flow': whole "Add to app" dances per unit. */
  unit: 'request' | 'flow';
  target: Target;
  connections: number;
  durationSec: number;
  /** Units completed (responses received, or flows finished). */
  completed: number;
  perSecond: number;
  latencyMs: { p50: number; p99: number; mean: number; max: number };
  expectedStatus: number;
  non2xx: number;
  /** Responses with any other status than expected, plus connection errors and timeouts (or failed flows). */
  unexpected: number;
  errors: number;
  timeouts: number;
  /** Responses with the expected status whose body failed the scenario's check (e.g. introspection saying active: false); included in unexpected. */
  mismatches: number;
  statusCounts: Record<string, number>;
  /** Peak RSS of the process under test during this scenario, MB (VmHWM, reset before the scenario). */
  peakRssMB?: number;
  /** Cores used during the measured run (not the warm-up), by whom. */
  cpu?: CpuUsage;
  /**
   * When the measured rounds ran, in microseconds of the monotonic clock the
   * V8 CPU profiles of --cpu-prof use too: bench/profile-summary.ts cuts a
   * server's profile down to one scenario with them.
   */
  windows?: { fromUs: number; toUs: number }[];
  notes: string[];
}

export interface HttpLoad {
  name: string;
  target: Target;
  base: string;
  method: 'GET' | 'POST';
  path: string;
  headers?: Record<string, string>;
  body?: string;
  /** Called for every request; returns the body to send (e.g. with a fresh code). */
  bodyFor?: () => string;
  /** Called for every request; headers added to `headers` (e.g. a fresh DPoP proof). */
  headersFor?: () => Record<string, string>;
  expectedStatus: number;
  /** Checks each body that came with the expected status; a false is counted as a mismatch. */
  verifyBody?: (body: string) => boolean;
}

export interface LoadShape {
  durationSec: number;
  connections: number;
}

const round = (value: number, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits;

/** Runs autocannon against one endpoint for a fixed time at a fixed number of connections. */
export async function runHttpLoad(load: HttpLoad, shape: LoadShape): Promise<Measurement> {
  const request: autocannon.Request = {
    method: load.method,
    path: load.path,
    headers: { ...load.headers, ...(load.body !== undefined || load.bodyFor ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
    ...(load.body !== undefined ? { body: load.body } : {}),
  };
  const { bodyFor, headersFor } = load;
  if (bodyFor || headersFor) {
    request.setupRequest = (built) => ({
      ...built,
      ...(bodyFor ? { body: bodyFor() } : {}),
      ...(headersFor ? { headers: { ...built.headers, ...headersFor() } } : {}),
    });
  }
  let bodyFailures = 0;
  if (load.verifyBody) {
    const verify = load.verifyBody;
    request.onResponse = (status, body) => {
      if (status === load.expectedStatus && !verify(body)) bodyFailures += 1;
    };
  }
  const result = await autocannon({
    url: load.base,
    connections: shape.connections,
    duration: shape.durationSec,
    timeout: 30,
    requests: [request],
  });
  const statusCounts: Record<string, number> = {};
  for (const [status, stats] of Object.entries(result.statusCodeStats ?? {})) statusCounts[status] = stats.count ?? 0;
  const responses = Object.values(statusCounts).reduce((sum, count) => sum + count, 0);
  const expected = statusCounts[String(load.expectedStatus)] ?? 0;
  return {
    name: load.name,
    unit: 'request',
    target: load.target,
    connections: shape.connections,
    durationSec: round(result.duration),
    completed: responses,
    perSecond: round(responses / result.duration, 1),
    latencyMs: { p50: result.latency.p50, p99: result.latency.p99, mean: round(result.latency.mean), max: result.latency.max },
    expectedStatus: load.expectedStatus,
    non2xx: result.non2xx,
    unexpected: responses - expected + result.errors + result.timeouts + bodyFailures,
    errors: result.errors,
    timeouts: result.timeouts,
    mismatches: bodyFailures,
    statusCounts,
    notes: load.expectedStatus >= 200 && load.expectedStatus < 300 ? [] : [`HTTP ${load.expectedStatus} is the expected answer, so every response counts as non-2xx`],
  };
}

function percentile(sorted: number[], fraction: number): number {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)]!;
}

export interface FlowLoad {
  name: string;
  workers: number;
  /** One complete flow; throws on any unexpected step. Returns how many HTTP requests it made. */
  flow: (worker: number) => Promise<number>;
}

/**
 * N workers each run the flow back to back until the time is up; a flow
 * under way at the deadline is finished (and counted), none is started after.
 */
export async function runFlowLoad(load: FlowLoad, durationSec: number): Promise<Measurement> {
  const latencies: number[] = [];
  const failures = new Map<string, number>();
  let requests = 0;
  const started = performance.now();
  const deadline = started + durationSec * 1000;
  const worker = async (index: number) => {
    while (performance.now() < deadline) {
      const begin = performance.now();
      try {
        const made = await load.flow(index);
        requests += made;
        latencies.push(performance.now() - begin);
      } catch (error) {
        const message = error instanceof Error ? error.message.slice(0, 200) : String(error);
        failures.set(message, (failures.get(message) ?? 0) + 1);
      }
    }
  };
  await Promise.all(Array.from({ length: load.workers }, (_, index) => worker(index)));
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const failed = [...failures.values()].reduce((sum, count) => sum + count, 0);
  return {
    name: load.name,
    unit: 'flow',
    target: 'appgrant',
    connections: load.workers,
    durationSec: round(elapsed),
    completed: latencies.length,
    perSecond: round(latencies.length / elapsed, 1),
    latencyMs: {
      p50: round(percentile(latencies, 0.5), 1),
      p99: round(percentile(latencies, 0.99), 1),
      mean: round(latencies.reduce((sum, value) => sum + value, 0) / (latencies.length || 1), 1),
      max: round(latencies.at(-1) ?? 0, 1),
    },
    expectedStatus: 200,
    non2xx: failed,
    unexpected: failed,
    errors: failed,
    timeouts: 0,
    mismatches: 0,
    statusCounts: {},
    notes: [
      `${latencies.length ? round(requests / latencies.length, 1) : 0} HTTP requests per flow`,
      ...[...failures].map(([message, count]) => `failed ${count}×: ${message}`),
    ],
  };
}
