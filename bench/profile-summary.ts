/**
 * `node bench/profile-summary.ts <file.cpuprofile> [top] [--results <file.json>
 * --scenario <name> [--target <process>]]`: where a V8 CPU profile (from
 * `npm run bench -- --cpu-prof`) spent its time, by package or source folder
 * and by function (self time), plus the inclusive time of the project's own
 * functions. Idle time is left out of the percentages. With --results and
 * --scenario, only the samples taken during that scenario's measured rounds
 * count (the windows the bench recorded for it; --target defaults to
 * appgrant): one profile of a run with several scenarios then says where
 * each one's time went, without the start-up and the warm-ups.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

interface Window {
  fromUs: number;
  toUs: number;
}

const { values: options, positionals } = parseArgs({
  options: { results: { type: 'string' }, scenario: { type: 'string' }, target: { type: 'string', default: 'appgrant' } },
  allowPositionals: true,
});
const [file, topArgument] = positionals;
if (!file || (options.scenario === undefined) !== (options.results === undefined)) {
  process.stderr.write('usage: node bench/profile-summary.ts <file.cpuprofile> [top] [--results <file.json> --scenario <name> [--target <process>]]\n');
  process.exit(2);
}
const top = Number(topArgument ?? 25);
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;

/** The measured rounds of one scenario, from a results file, or undefined for the whole profile. */
function windowsOf(resultsFile: string | undefined, scenario: string | undefined, target: string): Window[] | undefined {
  if (!resultsFile || !scenario) return undefined;
  const results = JSON.parse(readFileSync(resultsFile, 'utf8')) as { measurements: { target: string; name: string; windows?: Window[] }[] };
  const measurement = results.measurements.find((m) => m.target === target && m.name === scenario);
  if (!measurement?.windows?.length) {
    const known = results.measurements.map((m) => `${m.target}: ${m.name}`).join('; ');
    throw new Error(`no measured rounds of "${target}: ${scenario}" in ${resultsFile} (known: ${known})`);
  }
  return measurement.windows;
}

/** Sample ids, keeping only those taken inside the windows when there are any. */
function samplesIn(windows: Window[] | undefined): { id: number; micros: number }[] {
  const kept: { id: number; micros: number }[] = [];
  let at = profile.startTime;
  profile.samples.forEach((id, index) => {
    const micros = profile.timeDeltas[index] ?? 0;
    at += micros;
    if (!windows || windows.some((window) => at >= window.fromUs && at <= window.toUs)) kept.push({ id, micros });
  });
  return kept;
}
const windows = windowsOf(options.results, options.scenario, options.target);
const samples = samplesIn(windows);
if (windows && !samples.length) throw new Error('no sample of the profile falls inside the measured rounds: is it the profile of that run?');

const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const parent = new Map<number, number>();
for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

const selfMicros = new Map<number, number>();
for (const { id, micros } of samples) selfMicros.set(id, (selfMicros.get(id) ?? 0) + micros);

function area(url: string, name: string): string {
  if (!url) return name.startsWith('(') ? name : '(native)';
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (modules?.[1]) return modules[1];
  if (url.startsWith('node:')) return 'node internals';
  const own = /\/(src|views|bench)\/([^/]+)/.exec(url);
  if (own) return `${own[1]}/${own[2]}`;
  return url;
}

const where = (node: ProfileNode) => `${node.callFrame.functionName || '(anonymous)'} ${node.callFrame.url.replace(/^.*\/(node_modules|src|views|bench)\//, '$1/')}:${node.callFrame.lineNumber + 1}`;

let busy = 0;
const areas = new Map<string, number>();
const functions = new Map<string, number>();
for (const [id, micros] of selfMicros) {
  const node = byId.get(id)!;
  if (node.callFrame.functionName === '(idle)') continue;
  busy += micros;
  const key = area(node.callFrame.url, node.callFrame.functionName);
  areas.set(key, (areas.get(key) ?? 0) + micros);
  functions.set(where(node), (functions.get(where(node)) ?? 0) + micros);
}

/**
 * Self time charged to the nearest caller that is a package or a project
 * folder: a socket write under pg counts for pg, stream internals under koa
 * for koa. Samples with no such frame keep their own label (GC, program).
 */
function chargedTo(id: number): string {
  for (let current: number | undefined = id; current !== undefined; current = parent.get(current)) {
    const frame = byId.get(current)!.callFrame;
    const name = area(frame.url, frame.functionName);
    if (frame.url && name !== 'node internals' && !frame.url.startsWith('wasm:')) return name;
  }
  return area(byId.get(id)!.callFrame.url, byId.get(id)!.callFrame.functionName);
}
const charged = new Map<string, number>();
for (const [id, micros] of selfMicros) {
  if (byId.get(id)!.callFrame.functionName === '(idle)') continue;
  const key = chargedTo(id);
  charged.set(key, (charged.get(key) ?? 0) + micros);
}

/**
 * Self time charged to the innermost function of the project's own on the
 * stack (a step: a statement's socket write counts for runStatement, the
 * engine's work under a middleware for that middleware's innermost project
 * frame), or to the package when no project function is on the stack (work
 * resumed from the event loop: socket reads, Koa's response).
 */
const steps = new Map<string, number>();
for (const [id, micros] of selfMicros) {
  if (byId.get(id)!.callFrame.functionName === '(idle)') continue;
  let key: string | undefined;
  for (let current: number | undefined = id; current !== undefined && !key; current = parent.get(current)) {
    const node = byId.get(current)!;
    if (/\/(src|views)\//.test(node.callFrame.url)) key = where(node);
  }
  key ??= `(no project frame) ${chargedTo(id)}`;
  steps.set(key, (steps.get(key) ?? 0) + micros);
}

/** Inclusive time of the project's own functions: a sample counts once per distinct function on its stack. */
const inclusive = new Map<string, number>();
for (const [id, micros] of selfMicros) {
  if (byId.get(id)!.callFrame.functionName === '(idle)') continue;
  const seen = new Set<string>();
  for (let current: number | undefined = id; current !== undefined; current = parent.get(current)) {
    const node = byId.get(current)!;
    if (!/\/(src|views)\//.test(node.callFrame.url)) continue;
    const key = where(node);
    if (seen.has(key)) continue;
    seen.add(key);
    inclusive.set(key, (inclusive.get(key) ?? 0) + micros);
  }
}

const percent = (micros: number) => `${((micros / busy) * 100).toFixed(1).padStart(5)}%`;
const list = (title: string, entries: Map<string, number>) => {
  process.stdout.write(`\n${title}\n`);
  for (const [name, micros] of [...entries].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    process.stdout.write(`  ${percent(micros)}  ${(micros / 1000).toFixed(0).padStart(7)} ms  ${name}\n`);
  }
};
const scope = windows ? `the measured rounds of "${options.target}: ${options.scenario}" (${windows.length}, ${((windows.reduce((sum, w) => sum + w.toUs - w.fromUs, 0)) / 1e6).toFixed(1)} s)` : 'the whole profile';
process.stdout.write(`${file}, ${scope}: ${(busy / 1000).toFixed(0)} ms busy in ${samples.length} samples\n`);
list('self time by package / folder', areas);
list('self time charged to the nearest package / folder on the stack (native and node internals go to their caller)', charged);
list('self time by function', functions);
list('self time charged to the innermost project function on the stack (a step), else to the package', steps);
list("inclusive time of the project's own functions", inclusive);
