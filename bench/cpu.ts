import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/**
 * Where the CPU went during a scenario, from /proc: the whole machine, the
 * process under test, the PostgreSQL backends serving the bench database,
 * this bench process (the load generator), and everything else on the
 * machine. On a 2-core box the load generator, the server and PostgreSQL
 * share the cores, and anything else running shows up as "other".
 */
export interface CpuUsage {
  /** Cores busy on the whole machine (0 … nproc). */
  machine: number;
  target: number;
  /** The part of `target` spent in the kernel (system calls: sockets to the clients and to PostgreSQL). */
  targetKernel: number;
  postgres: number;
  bench: number;
  other: number;
}

interface Snapshot {
  at: number;
  busy: number;
  total: number;
  target: { user: number; system: number };
  postgres: Map<number, number>;
  bench: NodeJS.CpuUsage;
}

/** Linux reports process times in USER_HZ, which is 100 on every mainstream architecture. */
const ticksPerSecond = 100;

function machineTicks(): { busy: number; total: number } {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
    const fields = line.trim().split(/\s+/).slice(1, 9).map(Number);
    const total = fields.reduce((sum, value) => sum + value, 0);
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
    return { busy: total - idle, total };
  } catch {
    return { busy: 0, total: 0 };
  }
}

/** utime and stime of a process, in ticks. */
function processTimes(pid: number): { user: number; system: number } {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { user: Number(fields[11]), system: Number(fields[12]) };
  } catch {
    return { user: 0, system: 0 };
  }
}

function processTicks(pid: number): number {
  const { user, system } = processTimes(pid);
  return user + system;
}

/** PostgreSQL backends connected to the given database (their title names it). */
function postgresBackends(database: string): Map<number, number> {
  const backends = new Map<number, number>();
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return backends;
  }
  for (const pid of pids) {
    try {
      const title = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (title.startsWith('postgres: ') && title.includes(` ${database} `)) backends.set(Number(pid), processTicks(Number(pid)));
    } catch {
      // gone, or not ours to read
    }
  }
  return backends;
}

export class CpuMeter {
  readonly #database: string | undefined;
  readonly #poolers: number[];

  /** `poolers`: processes counted with PostgreSQL (a PgBouncer between the process and its database). */
  constructor(database?: string, poolers: number[] = []) {
    this.#database = database;
    this.#poolers = poolers;
  }

  #postgres(): Map<number, number> {
    const backends = this.#database ? postgresBackends(this.#database) : new Map<number, number>();
    for (const pid of this.#poolers) backends.set(pid, processTicks(pid));
    return backends;
  }

  snapshot(targetPid: number): Snapshot {
    const { busy, total } = machineTicks();
    return {
      at: performance.now(),
      busy,
      total,
      target: processTimes(targetPid),
      postgres: this.#postgres(),
      bench: process.cpuUsage(),
    };
  }

  usage(before: Snapshot, targetPid: number): CpuUsage {
    const after = this.snapshot(targetPid);
    const seconds = (after.at - before.at) / 1000;
    const cores = (ticks: number) => ticks / ticksPerSecond / seconds;
    const round = (value: number) => Math.round(value * 100) / 100;
    const machine = after.total > before.total ? ((after.busy - before.busy) / (after.total - before.total)) * availableParallelism() : 0;
    let postgresTicks = 0;
    for (const [pid, ticks] of after.postgres) {
      const earlier = before.postgres.get(pid) ?? 0;
      // A pid can be reused by a newer backend: then all of its ticks are new.
      postgresTicks += ticks >= earlier ? ticks - earlier : ticks;
    }
    const bench = process.cpuUsage(before.bench);
    const usage = {
      machine,
      target: cores(after.target.user + after.target.system - before.target.user - before.target.system),
      targetKernel: cores(after.target.system - before.target.system),
      postgres: cores(postgresTicks),
      bench: (bench.user + bench.system) / 1e6 / seconds,
    };
    return {
      machine: round(usage.machine),
      target: round(usage.target),
      targetKernel: round(usage.targetKernel),
      postgres: round(usage.postgres),
      bench: round(usage.bench),
      other: round(Math.max(0, usage.machine - usage.target - usage.postgres - usage.bench)),
    };
  }
}
