import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * appgrant servers as separate processes, started the way `npm start` and
 * the container do (`node src/server/main.ts`), with a clean environment:
 * nothing of the test runner's own configuration leaks into them.
 */
export const root = fileURLToPath(new URL('../..', import.meta.url));
const serverPath = join(root, 'src', 'server', 'main.ts');

export interface ServerProcess {
  child: ChildProcess;
  /** Resolves with the server's URL once it logs that it serves. */
  ready: Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
  /** Sends a signal and waits for the exit (SIGKILL after `killAfterMs`): the exit code and how long it took. */
  stop(signal?: NodeJS.Signals, killAfterMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>;
}

const running = new Set<ChildProcess>();

export function serverEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? tmpdir(),
    NODE_ENV: 'test',
    LOG_LEVEL: 'info',
    SEED_DEMO: 'false',
    HOST: '127.0.0.1',
    PORT: '0',
    ...extra,
  };
}

/**
 * Starts a server. `prefix` runs it under another program (e.g. `unshare`
 * for a PID namespace); `readyWithinMs` bounds the wait for it to serve.
 */
export function spawnServer(env: Record<string, string>, { prefix = [], readyWithinMs = 60_000 }: { prefix?: string[]; readyWithinMs?: number } = {}): ServerProcess {
  const [command, ...args] = [...prefix, process.execPath, serverPath];
  const child = spawn(command!, args, { cwd: root, env: serverEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let stdout = '';
  let stderr = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    });
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const ready = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server did not serve within ${readyWithinMs} ms:\n${stdout}\n${stderr}`)), readyWithinMs);
    let pending = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      pending += chunk;
      let end;
      while ((end = pending.indexOf('\n')) !== -1) {
        const line = pending.slice(0, end);
        pending = pending.slice(end + 1);
        let entry: { msg?: string; url?: string };
        try {
          entry = JSON.parse(line) as typeof entry;
        } catch {
          continue;
        }
        if (entry.msg === 'appgrant listening' && entry.url) {
          clearTimeout(timer);
          resolve(entry.url);
        }
      }
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`the server exited (${code ?? signal}) before serving:\n${stdout}\n${stderr}`));
    });
  });
  // A test that never waits for readiness must not leave an unhandled rejection behind.
  ready.catch(() => undefined);
  return {
    child,
    ready,
    exited,
    output: () => stdout + stderr,
    stop: async (signal = 'SIGTERM', killAfterMs = 30_000) => {
      const started = Date.now();
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const killer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
      const result = await exited;
      clearTimeout(killer);
      return { ...result, ms: Date.now() - started };
    },
  };
}

/** Kills every server still running (a test's clean-up, whether it passed or not). */
export async function killAllServers(): Promise<void> {
  const waits = [...running].map((child) => new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve()))));
  for (const child of running) child.kill('SIGKILL');
  await Promise.all(waits);
}

/** The children of a process, from /proc. */
export function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (parent === pid) children.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return children;
}
