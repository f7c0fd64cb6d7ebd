import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg, totalmem } from 'node:os';
import type { Measurement, Target } from './load.ts';

export interface TargetCheck {
  name: string;
  value: number | undefined;
  /** e.g. ">= 0.5" */
  target: string;
  pass: boolean | undefined;
  basis: string;
}

export interface Machine {
  nproc: number;
  cpu: string;
  memoryGiB: number;
  node: string;
  postgres: string;
  /** 1, 5 and 15 minute load averages when the run started: other work on the machine skews every figure. */
  loadAverageAtStart: number[];
}

export function machineInfo(postgres: string): Machine {
  let cpu = 'unknown';
  try {
    cpu = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? cpu;
  } catch {
    // not Linux
  }
  return {
    nproc: availableParallelism(),
    cpu,
    memoryGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    postgres,
    loadAverageAtStart: loadavg().map((value) => Math.round(value * 100) / 100),
  };
}

const round = (value: number, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits;

function find(measurements: Measurement[], target: Target, name: string): Measurement | undefined {
  return measurements.find((measurement) => measurement.target === target && measurement.name === name);
}

function ratio(name: string, a: Measurement | undefined, b: Measurement | undefined, minimum: number | undefined): TargetCheck {
  const value = a && b && b.perSecond > 0 ? round(a.perSecond / b.perSecond) : undefined;
  return {
    name,
    value,
    target: minimum === undefined ? '(info)' : `>= ${minimum}`,
    pass: minimum === undefined || value === undefined ? undefined : value >= minimum,
    basis: a && b ? `${a.perSecond}/s vs ${b.perSecond}/s` : 'not measured',
  };
}

function p99(name: string, measurement: Measurement | undefined, maximum: number): TargetCheck {
  return {
    name,
    value: measurement?.latencyMs.p99,
    target: `<= ${maximum}`,
    pass: measurement ? measurement.latencyMs.p99 <= maximum : undefined,
    basis: measurement ? `${measurement.connections} connections` : 'not measured',
  };
}

/** The targets on a token endpoint path: against the peer, against the in-memory engine, p99 where asked. */
function tokenPathChecks(measurements: Measurement[], name: string, via: '' | ' via PgBouncer', latency: boolean): TargetCheck[] {
  const ours = find(measurements, `appgrant${via}`, name);
  return [
    ratio(`${name}${via} vs peer (plain PostgreSQL adapter${via})`, ours, find(measurements, `peer-oidc${via}`, name), 1.25),
    ratio(`${name}${via} vs in-memory oidc-provider`, ours, find(measurements, 'bare-oidc', name), 0.35),
    ...(latency ? [p99(`${name}${via} p99 latency (ms)`, ours, 100)] : []),
  ];
}

export const tokenPaths = ['code exchange', 'refresh', 'introspection'] as const;
export const credentialKinds = ['Basic', 'JWT', 'Bearer', 'DPoP'] as const;

/**
 * The targets of the issue "Hot paths that beat the obvious alternative",
 * and a few informative ratios, from one run's measurements. With
 * --pgbouncer every appgrant figure is also compared with the same figure
 * through PgBouncer (target: within 10 %), and the token-path ratios are
 * given again with both appgrant and the peer behind PgBouncer.
 */
export function evaluate(measurements: Measurement[]): TargetCheck[] {
  const ours = (name: string) => find(measurements, 'appgrant', name);
  const lean = find(measurements, 'unauthenticated-api', 'GET /v2/apps/{id}');
  const bareKoa = find(measurements, 'bare-koa', 'GET /v2/apps/{id}');
  const checks: TargetCheck[] = tokenPaths.flatMap((name) => tokenPathChecks(measurements, name, '', name !== 'introspection'));
  for (const kind of credentialKinds) {
    checks.push(ratio(`GET /v2/apps/{id} ${kind} vs unauthenticated lean read`, ours(`GET /v2/apps/{id} ${kind}`), lean, 0.85));
  }
  const peaks = measurements.filter((m) => m.target.startsWith('appgrant') && m.peakRssMB !== undefined).map((m) => m.peakRssMB!);
  const peak = peaks.length ? Math.max(...peaks) : undefined;
  checks.push({
    name: 'appgrant peak RSS (MB)',
    value: peak,
    target: '<= 200',
    pass: peak === undefined ? undefined : peak <= 200,
    basis: 'max VmHWM over every appgrant scenario (and server)',
  });
  for (const measurement of measurements.filter((m) => m.target === 'appgrant via PgBouncer')) {
    checks.push(ratio(`${measurement.name} via PgBouncer vs direct`, measurement, ours(measurement.name), 0.9));
    const direct = ours(measurement.name);
    if (direct && ['code exchange', 'refresh'].includes(measurement.name)) {
      checks.push(p99(`${measurement.name} via PgBouncer p99 latency (ms), direct ${direct.latencyMs.p99} ms`, measurement, Math.round(direct.latencyMs.p99 * 1.1)));
    }
  }
  if (measurements.some((m) => m.target === 'appgrant via PgBouncer')) {
    checks.push(...tokenPaths.flatMap((name) => tokenPathChecks(measurements, name, ' via PgBouncer', false)));
  }
  for (const kind of credentialKinds) checks.push(ratio(`GET /v2/apps/{id} ${kind} vs bare Koa`, ours(`GET /v2/apps/{id} ${kind}`), bareKoa, undefined));
  checks.push(ratio('unauthenticated lean read vs bare Koa', lean, bareKoa, undefined));
  const login = ours('dashboard login');
  checks.push({
    name: 'dashboard logins per second',
    value: login?.perSecond,
    target: '>= 40',
    pass: login ? login.perSecond >= 40 : undefined,
    basis: login ? `${login.connections} connections, argon2id m=19456 KiB t=2 p=1` : 'not measured',
  });
  const flows = ours('add-to-app flow');
  checks.push({
    name: 'add-to-app flows per second',
    value: flows?.perSecond,
    target: '(info)',
    pass: undefined,
    basis: flows ? `${flows.connections} workers; ${flows.notes[0] ?? ''}` : 'not measured',
  });
  return checks;
}

/** Whether a scenario answered as expected: something was measured and nothing else came back. */
export function problemsOf(measurement: Measurement): string[] {
  const problems: string[] = [];
  if (measurement.completed === 0) problems.push('no requests completed');
  if (measurement.unexpected > 0) {
    const statuses = Object.entries(measurement.statusCounts)
      .filter(([status]) => status !== String(measurement.expectedStatus))
      .map(([status, count]) => `${count}× HTTP ${status}`);
    const other = [
      ...statuses,
      ...(measurement.errors && measurement.unit === 'request' ? [`${measurement.errors} connection errors`] : []),
      ...(measurement.timeouts ? [`${measurement.timeouts} timeouts`] : []),
      ...(measurement.mismatches ? [`${measurement.mismatches} with HTTP ${measurement.expectedStatus} but a body that failed the check`] : []),
      ...(measurement.unit === 'flow' ? [`${measurement.unexpected} failed flows`] : []),
    ];
    problems.push(`${measurement.unexpected} unexpected (expected HTTP ${measurement.expectedStatus}): ${other.join(', ')}`);
  }
  return problems;
}

function table(header: string[], rows: string[][], rightAligned: Set<number>): string {
  const widths = header.map((cell, index) => Math.max(cell.length, ...rows.map((row) => row[index]!.length)));
  const line = (cells: string[]) =>
    cells.map((cell, index) => (rightAligned.has(index) ? cell.padStart(widths[index]!) : cell.padEnd(widths[index]!))).join('  ').trimEnd();
  return [line(header), widths.map((width) => '-'.repeat(width)).join('  '), ...rows.map(line)].join('\n');
}

/**
 * CPU milliseconds one request (or flow) cost the process under test and
 * its PostgreSQL backends: unlike requests per second, this barely moves
 * when other work shares the machine.
 */
export function cpuCost(m: Measurement): string | undefined {
  if (!m.cpu || !m.completed) return undefined;
  const perUnit = (cores: number) => ((cores * m.durationSec * 1000) / m.completed).toFixed(2);
  return `${perUnit(m.cpu.target)} (kernel ${perUnit(m.cpu.targetKernel)}) + ${perUnit(m.cpu.postgres)}`;
}

export function measurementsTable(measurements: Measurement[]): string {
  const rows = measurements.map((m) => [
    m.target,
    m.name,
    String(m.connections),
    `${m.perSecond}${m.unit === 'flow' ? ' flows' : ''}`,
    String(m.latencyMs.p50),
    String(m.latencyMs.p99),
    String(m.non2xx),
    String(m.unexpected),
    m.peakRssMB === undefined ? '' : String(m.peakRssMB),
    m.cpu ? [m.cpu.target, m.cpu.postgres, m.cpu.bench, m.cpu.other].map((value) => value.toFixed(2)).join(' / ') : '',
    cpuCost(m) ?? '',
  ]);
  return table(
    ['process', 'scenario', 'conns', 'per s', 'p50 ms', 'p99 ms', 'non-2xx', 'unexpected', 'peak RSS MB', 'cores: process / pg / bench / other', 'CPU ms/unit: process (kernel) + pg'],
    rows,
    new Set([2, 3, 4, 5, 6, 7, 8]),
  );
}

export function checksTable(checks: TargetCheck[]): string {
  const rows = checks.map((check) => [
    check.name,
    check.value === undefined ? '-' : String(check.value),
    check.target,
    check.pass === undefined ? '' : check.pass ? 'pass' : 'FAIL',
    check.basis,
  ]);
  return table(['ratio / figure', 'value', 'target', 'result', 'basis'], rows, new Set([1]));
}
