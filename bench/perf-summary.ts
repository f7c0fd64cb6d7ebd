import { readFileSync } from 'node:fs';

/**
 * Summarises `perf script -F comm,tid,ip,sym` output of the server process
 * (recorded with `perf record -e cpu-clock -g` while node ran with
 * --perf-basic-prof). Unlike V8's --cpu-prof, which samples the main thread
 * on a wall clock and so charges time the process spent waiting for a core
 * to whatever it was doing (often the socket write that woke PostgreSQL),
 * perf's cpu-clock samples only on-CPU time, of every thread: V8's garbage
 * collection helpers included.
 *
 *   node bench/perf-summary.ts /tmp/perf.txt [top]
 *
 * Prints the share of samples by package (the nearest JavaScript frame's
 * package; `node` is Node's own library: http, net, streams, promises), by
 * the innermost project function on the stack, and the inclusive share of
 * project functions (synchronous stacks only: an await ends a stack).
 */

interface Sample {
  thread: string;
  frames: string[];
}

function readSamples(path: string): Sample[] {
  const samples: Sample[] = [];
  let current: Sample | undefined;
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line.trim()) {
      if (current) samples.push(current);
      current = undefined;
    } else if (!/^\s/.test(line)) {
      current = { thread: line.trim().split(/\s+/)[0] ?? '', frames: [] };
    } else {
      const [, symbol = '?'] = /^\s*\S+\s+(.*)$/.exec(line) ?? [];
      current?.frames.push(symbol);
    }
  }
  if (current) samples.push(current);
  return samples;
}

function packageOf(frame: string): string | undefined {
  const module = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(frame);
  if (module) return module[1];
  if (/\/src\/\S+:\d+/.test(frame)) return 'src';
  if (/\bnode:/.test(frame)) return 'node';
  return undefined;
}

/** `src/…/file.ts function` of a frame of the project's own code. */
function projectFunction(frame: string): string | undefined {
  const match = /^JS:\S*?'?(\S*) file:\/\/\S*?\/(src\/\S+?):\d+/.exec(frame);
  return match ? `${match[2]} ${match[1] || '(anonymous)'}` : undefined;
}

function print(title: string, counts: Map<string, number>, total: number, top: number): void {
  process.stdout.write(`\n${title}\n`);
  for (const [name, count] of [...counts].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    process.stdout.write(`${((100 * count) / total).toFixed(1).padStart(6)}%  ${name}\n`);
  }
}

const add = (counts: Map<string, number>, key: string) => counts.set(key, (counts.get(key) ?? 0) + 1);

const [path, topText = '30'] = process.argv.slice(2);
if (!path) {
  process.stderr.write('usage: node bench/perf-summary.ts <perf script output> [top]\n');
  process.exit(2);
}
const samples = readSamples(path);
const byPackage = new Map<string, number>();
const byFunction = new Map<string, number>();
const inclusive = new Map<string, number>();
for (const { thread, frames } of samples) {
  if (thread !== 'MainThread') {
    add(byPackage, `(thread ${thread}: V8's garbage collection and compilation helpers)`);
    continue;
  }
  const nearest = frames.map(packageOf).find((name) => name !== undefined);
  const leaf = frames[0] ?? '';
  const native = /Scaveng|Mark|Heap|Sweep|GC/.test(leaf) ? '(main thread, no JavaScript: garbage collection)' : '(main thread, no JavaScript: kernel and runtime)';
  add(byPackage, nearest ?? native);
  const functions = frames.map(projectFunction).filter((name) => name !== undefined);
  add(byFunction, functions[0] ?? `[no project frame] ${nearest ?? native}`);
  for (const name of new Set(functions)) add(inclusive, name);
}
process.stdout.write(`${path}: ${samples.length} samples\n`);
print('by package (nearest JavaScript frame)', byPackage, samples.length, Number(topText));
print('main thread, charged to the innermost project function', byFunction, samples.length, Number(topText));
print('inclusive, project functions (synchronous stacks)', inclusive, samples.length, Number(topText));
