import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, readFileSync, writeFileSync, type WriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

export const repoRoot = fileURLToPath(new URL('..', import.meta.url));

/** A port nobody listens on right now: bind port 0, read it, release it. */
/**
 * The settings every appgrant server the bench starts runs with: as `npm
 * start` runs it, on loopback at `port`, on the bench's database, with a
 * fresh key-encryption key, no demo data and quiet logs (`info` would add a
 * log line per request). `NODE_ENV=development`, as production insists on an
 * https issuer.
 */
export function appgrantServerEnv(port: number, databaseUrl: string): Record<string, string> {
  return {
    NODE_ENV: 'development',
    HOST: '127.0.0.1',
    PORT: String(port),
    ISSUER: `http://127.0.0.1:${port}`,
    DATABASE_URL: databaseUrl,
    SEED_DEMO: 'false',
    LOG_LEVEL: 'warn',
    KEY_ENCRYPTION_KEYS: `bench1:${randomBytes(32).toString('base64url')}`,
  };
}

export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const probe = createServer();
    probe.once('error', fail);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => (port ? done(port) : fail(new Error('no free port'))));
    });
  });
}

export interface ChildOptions {
  /** A short name for logs and errors. */
  name: string;
  /**
   * Relative to the repository root: a .ts or .js entry point, run with this
   * node; or an executable launcher (bin/appgrant-server), given the node
   * flags as its arguments and this node as $NODE.
   */
  script: string;
  env: Record<string, string>;
  /** Extra node flags, e.g. --cpu-prof. */
  nodeArgs?: string[];
  /** Polled until it answers 200. */
  readyUrl: string;
  readyTimeoutMs?: number;
  /** Also write everything the process prints to this file. */
  logFile?: string;
}

const tailLimit = 16 * 1024;

/** A node process the bench started: its pid, the tail of its output, and how to stop it. */
export class Child {
  readonly name: string;
  readonly process: ChildProcess;
  #output = '';
  #exited: Promise<number | null>;
  #exitCode: number | null | undefined;

  constructor(name: string, child: ChildProcess, log?: WriteStream) {
    this.name = name;
    this.process = child;
    const keep = (chunk: Buffer) => {
      this.#output = (this.#output + chunk.toString('utf8')).slice(-tailLimit);
      log?.write(chunk);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.#exited = new Promise((done) =>
      child.once('exit', (code, signal) => {
        this.#exitCode = code ?? (signal ? -1 : null);
        log?.end();
        done(this.#exitCode);
      }),
    );
  }

  get pid(): number {
    return this.process.pid!;
  }

  get running(): boolean {
    return this.#exitCode === undefined;
  }

  /** The last few kilobytes the process wrote, for error reports. */
  get output(): string {
    return this.#output;
  }

  /** SIGTERM, then SIGKILL if it has not exited within the grace period. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.running) return;
    this.process.kill('SIGTERM');
    const timer = setTimeout(() => this.running && this.process.kill('SIGKILL'), graceMs);
    await this.#exited;
    clearTimeout(timer);
  }

  /** Immediate SIGKILL, for the signal handler. */
  kill(): void {
    if (this.running) this.process.kill('SIGKILL');
  }

  /** Peak resident set size in bytes since start or since the last resetPeakRss (VmHWM). */
  peakRss(): number | undefined {
    return statusField(this.pid, 'VmHWM');
  }

  /** Current resident set size in bytes (VmRSS). */
  rss(): number | undefined {
    return statusField(this.pid, 'VmRSS');
  }

  /** Restarts the VmHWM high-water mark from the current RSS (Linux: echo 5 > clear_refs). */
  resetPeakRss(): boolean {
    try {
      writeFileSync(`/proc/${this.pid}/clear_refs`, '5');
      return true;
    } catch {
      return false;
    }
  }
}

function statusField(pid: number, field: string): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status);
    return match?.[1] ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

const children = new Set<Child>();
/** Set once cleanup begins: no child may start after that, or it would outlive the bench. */
let stopping = false;

export class StoppingError extends Error {
  constructor() {
    super('the bench is stopping');
  }
}

/** Every child still running, for cleanup. */
export function runningChildren(): Child[] {
  return [...children].filter((child) => child.running);
}

export async function stopAllChildren(): Promise<void> {
  stopping = true;
  await Promise.all(runningChildren().map((child) => child.stop()));
}

export function killAllChildren(): void {
  stopping = true;
  for (const child of runningChildren()) child.kill();
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/**
 * Starts `node <script>` (or the launcher) with exactly the given environment
 * (plus PATH and HOME), and waits until readyUrl answers 200. The node binary
 * is this process's own, so the child runs the same Node version.
 */
export async function startChild(options: ChildOptions): Promise<Child> {
  if (stopping) throw new StoppingError();
  const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', NODE: process.execPath, ...options.env };
  const nodeArgs = options.nodeArgs ?? [];
  const isEntryPoint = /\.[cm]?[jt]s$/.test(options.script);
  const [command, args] = isEntryPoint ? [process.execPath, [...nodeArgs, options.script]] : [join(repoRoot, options.script), nodeArgs];
  const spawned = spawn(command, args, {
    cwd: repoRoot,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const child = new Child(options.name, spawned, options.logFile ? createWriteStream(options.logFile) : undefined);
  children.add(child);
  const deadline = Date.now() + (options.readyTimeoutMs ?? 60_000);
  let lastAnswer = 'no answer';
  while (Date.now() < deadline) {
    if (stopping) throw new StoppingError();
    if (!child.running) throw new Error(`${options.name} exited before it was ready:\n${child.output}`);
    try {
      const response = await fetch(options.readyUrl, { signal: AbortSignal.timeout(5_000) });
      const body = await response.text();
      if (response.status === 200) return child;
      lastAnswer = `HTTP ${response.status}: ${body.slice(0, 200)}`;
    } catch (error) {
      lastAnswer = error instanceof Error ? `${error.message}${error.cause ? ` (${String(error.cause)})` : ''}` : String(error);
    }
    await sleep(100);
  }
  await child.stop();
  throw new Error(`${options.name} did not become ready within ${options.readyTimeoutMs ?? 60_000} ms (last answer from ${options.readyUrl}: ${lastAnswer}):\n${child.output}`);
}
