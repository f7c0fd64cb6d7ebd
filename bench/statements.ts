/**
 * `node bench/statements.ts [rounds]`: what naming the hot statements saves
 * (src/db/statements.ts), measured where it shows: two appgrant servers,
 * one preparing its statements under a name
 * (DATABASE_NAMED_STATEMENTS=true, the default on a direct connection) and
 * one sending them unnamed (what it does behind PgBouncer in transaction
 * mode), each on a fresh database of its own, asked the same
 * one-statement requests (GET /v2/apps/{id} with Basic; introspection) one
 * at a time, in alternating rounds. Reports, per kind and mode, the median
 * latency and the CPU per request of the server process and of its
 * PostgreSQL backends (where parsing and planning happen).
 */
import { loadavg } from 'node:os';
import { loadSettings } from '../src/config/settings.ts';
import { openDatabase } from '../src/db/database.ts';
import { SecretBox } from '../src/keys/secret-box.ts';
import { loadKeyEncryptionKeys } from '../src/keys/server-keys.ts';
import { CpuMeter } from './cpu.ts';
import { createBenchDatabase, type BenchDatabase } from './database.ts';
import { authorizeAsOwner, basicAuthorization, exchangeCode } from './flow-client.ts';
import { appgrantServerEnv, freePort, startChild, stopAllChildren, type Child } from './processes.ts';
import { redirectUri, seed } from './seed.ts';

const rounds = Number(process.argv[2] ?? 8);
const requestsPerRound = 150;
const adminUrl = process.env.BENCH_ADMIN_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

interface Contender {
  mode: 'named' | 'unnamed';
  base: string;
  child: Child;
  meter: CpuMeter;
  send: Record<string, () => Promise<Response>>;
}

/** A fresh database, seeded, with its own server, and a token from one real flow. */
async function contender(mode: Contender['mode']): Promise<Contender> {
  const benchDatabase = await createBenchDatabase(adminUrl);
  databases.push(benchDatabase);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const env = {
    ...appgrantServerEnv(port, benchDatabase.url),
    DATABASE_NAMED_STATEMENTS: String(mode === 'named'),
  };
  const child = await startChild({ name: `appgrant ${mode}`, script: 'bin/appgrant-server', env, readyUrl: `${base}/readyz` });
  const settings = loadSettings(env);
  const database = await openDatabase({ databaseUrl: benchDatabase.url, dataDir: 'unused', poolMax: 2 });
  const box = new SecretBox(await loadKeyEncryptionKeys(database.knex, settings.KEY_ENCRYPTION_KEYS));
  const fixtures = await seed(database.knex, settings, box, 1);
  await database.close();
  const { code } = await authorizeAsOwner({ base, partner: fixtures.partner, redirectUri, owner: fixtures.owner });
  const token = await exchangeCode(base, fixtures.partner, code, redirectUri);
  const send = {
    'GET /v2/apps/{id} Basic': () =>
      fetch(`${base}/v2/apps/${fixtures.owner.app.id}`, { headers: { authorization: basicAuthorization(fixtures.appKey.id, fixtures.appKey.secret) } }),
    introspection: () =>
      fetch(`${base}/oauth/introspect`, {
        method: 'POST',
        headers: { authorization: basicAuthorization(fixtures.resourceServer.id, fixtures.resourceServer.secret), 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token: token.access_token }),
      }),
  };
  return { mode, base, child, meter: new CpuMeter(benchDatabase.name), send };
}

const databases: BenchDatabase[] = [];
try {
  const contenders = [await contender('named'), await contender('unnamed')];
  const samples = new Map<string, { latencies: number[]; cpuMs: number; requests: number }>();
  for (let round = 0; round < rounds; round += 1) {
    const order = round % 2 ? [...contenders].reverse() : contenders;
    for (const kind of Object.keys(contenders[0]!.send)) {
      for (const { mode, child, meter, send } of order) {
        const key = `${kind} | ${mode}`;
        const sample = samples.get(key) ?? { latencies: [], cpuMs: 0, requests: 0 };
        const before = meter.snapshot(child.pid);
        const started = performance.now();
        const latencies: number[] = [];
        for (let i = 0; i < requestsPerRound; i += 1) {
          const sent = performance.now();
          const response = await send[kind]!();
          await response.arrayBuffer();
          if (response.status !== 200) throw new Error(`${key}: HTTP ${response.status}`);
          latencies.push(performance.now() - sent);
        }
        const usage = meter.usage(before, child.pid);
        // The first round warms both servers up; it is not counted.
        if (round > 0) {
          sample.latencies.push(...latencies);
          sample.cpuMs += (usage.target + usage.postgres) * (performance.now() - started);
          sample.requests += requestsPerRound;
        }
        samples.set(key, sample);
      }
    }
  }
  process.stdout.write(`${rounds - 1} rounds of ${requestsPerRound} requests per kind and mode, one at a time; load average ${loadavg()[0]!.toFixed(1)}\n`);
  process.stdout.write('request | statements | median latency ms | CPU ms per request, server process and its PostgreSQL backends\n');
  for (const [key, sample] of samples) {
    process.stdout.write(`${key} | ${median(sample.latencies).toFixed(3)} | ${(sample.cpuMs / sample.requests).toFixed(3)}\n`);
  }
} finally {
  await stopAllChildren();
  for (const database of databases) await database.drop();
}
