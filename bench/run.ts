/**
 * `npm run bench [-- --quick]`: starts an appgrant server process on a fresh
 * PostgreSQL database, seeds it with the project's own functions, loads it
 * scenario by scenario with autocannon (and a fetch-based browser for whole
 * flows), measures the baselines in their own processes at the same
 * concurrency, prints the figures and ratios to the targets and writes them
 * to bench/results/. Exits 1 when a scenario answered anything but what it
 * expects or did nothing; the targets themselves never fail the run.
 *
 * Options: --quick (2 s, 8 connections: the CI smoke run), --duration <s>,
 * --connections <n>, --flow-workers <n>, --warmup <s>, --rounds <n> (the
 * measured time cut into n slices taken in turn with the baseline's), --cpu-prof (writes a
 * V8 CPU profile of the server to bench/results/profiles/), --admin-url
 * <postgres URL> (default postgres://postgres@127.0.0.1:5432/postgres, or
 * BENCH_ADMIN_DATABASE_URL), --node-arg <flag> (repeatable: a node flag for
 * the server, e.g. --node-arg=--trace-gc), --server-env NAME=VALUE
 * (repeatable: a setting for the server, e.g.
 * --server-env=DATABASE_NAMED_STATEMENTS=false), --only <list> (a subset of exchange,
 * refresh, introspection, v2 (or one kind: v2-Basic, v2-JWT, v2-Bearer,
 * v2-DPoP), login, flow, bare-oidc, peer-oidc, unauthenticated, bare-koa;
 * for profiling one path), --pgbouncer (a second
 * appgrant server and a second peer, on the same databases through a
 * PgBouncer in transaction mode the bench starts, measured side by side with
 * the direct ones).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SignJWT } from 'jose';
import { loadSettings } from '../src/config/settings.ts';
import { SecretBox } from '../src/keys/secret-box.ts';
import { openDatabase, type Database } from '../src/db/database.ts';
import { loadKeyEncryptionKeys } from '../src/keys/server-keys.ts';
import { analyzingAfter, appgrantMinter, appgrantProvider, engineMinter, type CodeMinter } from './codes.ts';
import { CpuMeter } from './cpu.ts';
import { createBenchDatabase, type BenchDatabase } from './database.ts';
import { DpopKey } from './dpop.ts';
import { authorizeAsOwner, basicAuthorization, CookieBrowser, exchangeCode, field, refreshBody } from './flow-client.ts';
import type { Measurement, Target } from './load.ts';
import { appgrantServerEnv, freePort, killAllChildren, repoRoot, startChild, stopAllChildren, type Child } from './processes.ts';
import { describeCensus, queryCensus } from './query-census.ts';
import { checksTable, evaluate, machineInfo, measurementsTable, problemsOf } from './report.ts';
import {
  appReadLoad,
  codeExchangeContender,
  dpopReadContender,
  flowContender,
  httpContender,
  introspectionLoad,
  loginLoad,
  measureSideBySide,
  refreshContender,
  type Contender,
  type Probe,
  type Shape,
} from './scenarios.ts';
import { partnerPermissions, redirectUri, seed } from './seed.ts';
import { startPgBouncer, type Bouncer } from '../test/support/pgbouncer.ts';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    duration: { type: 'string' },
    connections: { type: 'string' },
    'flow-workers': { type: 'string' },
    warmup: { type: 'string' },
    rounds: { type: 'string' },
    'cpu-prof': { type: 'boolean', default: false },
    'admin-url': { type: 'string' },
    only: { type: 'string' },
    'node-arg': { type: 'string', multiple: true },
    'server-env': { type: 'string', multiple: true },
    pgbouncer: { type: 'boolean', default: false },
  },
  strict: true,
});

const scenarioGroups = [
  'exchange', 'refresh', 'introspection', 'v2', 'v2-Basic', 'v2-JWT', 'v2-Bearer', 'v2-DPoP', 'login', 'flow', 'bare-oidc', 'peer-oidc', 'unauthenticated', 'bare-koa',
] as const;
type ScenarioGroup = (typeof scenarioGroups)[number];
const only = new Set<ScenarioGroup>(
  args.only === undefined
    ? scenarioGroups
    : args.only.split(',').map((name) => {
        if (!(scenarioGroups as readonly string[]).includes(name.trim())) throw new Error(`--only: unknown scenario ${name}; known: ${scenarioGroups.join(', ')}`);
        return name.trim() as ScenarioGroup;
      }),
);

function positive(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const number = Number(value);
  if (!Number.isFinite(number) || number < 0) throw new Error(`--${name} must be a non-negative number`);
  return number;
}

const quick = args.quick ?? false;
const shape: Shape = {
  durationSec: positive('duration', args.duration, quick ? 2 : 10),
  warmupSec: positive('warmup', args.warmup, quick ? 0.5 : 2),
  connections: Math.max(1, Math.round(positive('connections', args.connections, quick ? 8 : 32))),
  flowWorkers: Math.max(1, Math.round(positive('flow-workers', args['flow-workers'], quick ? 4 : 8))),
  rounds: Math.max(1, Math.round(positive('rounds', args.rounds, quick ? 1 : 5))),
};
const adminUrl = args['admin-url'] ?? process.env.BENCH_ADMIN_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const resultsDir = join(repoRoot, 'bench', 'results');

const say = (line: string) => process.stdout.write(`${line}\n`);

/** appgrant's database first, then the peer's. */
const benchDatabases: BenchDatabase[] = [];
let database: Database | undefined;
let bouncer: Bouncer | undefined;
let cleaning: Promise<void> | undefined;

/** Stops every child and the PgBouncer, closes the bench's own pool, drops the databases. Runs once. */
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    await stopAllChildren().catch((error: unknown) => say(`cleanup: stopping processes failed: ${String(error)}`));
    await bouncer?.stop().catch((error: unknown) => say(`cleanup: stopping PgBouncer failed: ${String(error)}`));
    await database?.close().catch((error: unknown) => say(`cleanup: closing the pool failed: ${String(error)}`));
    for (const benchDatabase of benchDatabases) {
      await benchDatabase.drop().then(
        () => say(`dropped database ${benchDatabase.name}`),
        (error: unknown) => say(`cleanup: could not drop database ${benchDatabase.name}: ${String(error)}`),
      );
    }
  })();
  return cleaning;
}

let interrupted: string | undefined;
for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
  process.once(signal, () => {
    interrupted = signal;
    say(`\n${signal}: stopping the bench and cleaning up`);
    killAllChildren();
    void cleanup().finally(() => process.exit(code));
  });
}

function ensureRunning(child: Child): void {
  if (!child.running) throw new Error(`${child.name} exited during the run:\n${child.output}`);
}

async function expectOk(label: string, response: Response, check: (body: string) => boolean): Promise<string> {
  const body = await response.text();
  if (response.status !== 200 || !check(body)) throw new Error(`${label}: HTTP ${response.status}: ${body.slice(0, 300)}`);
  return body;
}

/** Where one contender's requests go, how its CPU is watched, and what it needs for the token paths. */
interface Side {
  target: Target;
  base: string;
  probe: Probe;
  codes: CodeMinter;
  refreshTokens: CodeMinter;
  /** A live access token of its own, for introspection. */
  accessToken: string;
}

/** PgBouncer's server sessions per database with --pgbouncer: production's default_pool_size (deploy/pgbouncer/pool.ini). */
const bouncerPoolSize = 20;

const probe = (child: Child, meter: CpuMeter): Probe => ({ child, meter, progress: say });

function tokenRequest(authorization: string, body: string): RequestInit {
  return { method: 'POST', headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' }, body };
}

async function main(): Promise<number> {
  const startedAt = new Date();
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  say(`appgrant bench (${quick ? 'quick smoke run' : 'full run'}): ${shape.durationSec} s per scenario after ${shape.warmupSec} s warm-up, ` +
    `${shape.connections} connections, ${shape.flowWorkers} flow workers${args.pgbouncer ? ', directly and through PgBouncer' : ''}`);

  const machineAtStart = machineInfo('');
  if (machineAtStart.loadAverageAtStart[0]! > machineAtStart.nproc / 2) {
    say(`note: the machine is busy (load average ${machineAtStart.loadAverageAtStart.join(' ')} on ${machineAtStart.nproc} cores); ` +
      'the figures will be lower than on an idle machine (see the "other" cores column)');
  }
  const benchDatabase = await createBenchDatabase(adminUrl);
  benchDatabases.push(benchDatabase);
  say(`created database ${benchDatabase.name}`);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const serverEnv: Record<string, string> = {
    ...appgrantServerEnv(port, benchDatabase.url),
    // The login scenario measures argon2id throughput: one owner logging in from one
    // address as fast as it can, far past what the login throttle and the
    // verification budget let a real client do.
    LOGIN_MAX_FAILURES_PER_ACCOUNT: '100000',
    LOGIN_MAX_FAILURES_PER_IP: '100000',
    PASSWORD_VERIFICATIONS_PER_SECOND: '100000',
    ...Object.fromEntries(
      (args['server-env'] ?? []).map((assignment) => {
        const separator = assignment.indexOf('=');
        if (separator < 1) throw new Error(`--server-env: expected NAME=VALUE, got ${assignment}`);
        return [assignment.slice(0, separator), assignment.slice(separator + 1)];
      }),
    ),
  };
  // The bench process reads the same configuration, for the engine that mints codes and the seeding.
  const settings = loadSettings(serverEnv);
  mkdirSync(resultsDir, { recursive: true });
  const serverLogFile = join(resultsDir, `${stamp}.server.log`);
  const server = await startServer('appgrant', serverEnv, port, serverLogFile);
  const idleRssMB = Math.round(((server.rss() ?? 0) / 1024 / 1024) * 10) / 10;
  say(`appgrant server pid ${server.pid} at ${base}, ${idleRssMB} MB resident when ready (password hash m=${settings.PASSWORD_HASH_MEMORY_KIB} KiB t=${settings.PASSWORD_HASH_ITERATIONS} p=${settings.PASSWORD_HASH_PARALLELISM})`);

  database = await openDatabase({ databaseUrl: benchDatabase.url, dataDir: 'unused', poolMax: 16 });
  const db = database.knex;
  const postgres = String((await db.raw('show server_version')).rows[0].server_version);
  const box = new SecretBox(await loadKeyEncryptionKeys(db, settings.KEY_ENCRYPTION_KEYS));
  const fixtures = await seed(db, settings, box, shape.flowWorkers);
  const appId = fixtures.owner.app.id;
  const partnerAuthorization = basicAuthorization(fixtures.partner.id, fixtures.partner.secret);

  // One real "Add to app" over HTTP creates the grant and the authorization. Its code is
  // the template for the minted ones and is exchanged with a DPoP proof: the DPoP-bound
  // token. A minted code gives the Bearer token and the template for minted refresh tokens.
  const real = await authorizeAsOwner({ base, partner: fixtures.partner, redirectUri, owner: fixtures.owner });
  const provider = await appgrantProvider(db, settings);
  const analyzeRecords = () => db.raw('analyze oauth_records');
  const codes = analyzingAfter(await appgrantMinter(provider, settings, 'AuthorizationCode', real.code), analyzeRecords);
  const dpopKey = new DpopKey();
  const dpopToken = await exchangeCode(base, fixtures.partner, real.code, redirectUri, { dpop: dpopKey.proof('POST', `${settings.ISSUER}/oauth/token`) });
  if (dpopToken.token_type.toLowerCase() !== 'dpop') throw new Error(`the code exchanged with a DPoP proof gave token_type ${dpopToken.token_type}`);
  const token = await exchangeCode(base, fixtures.partner, (await codes.mint(1))[0]!, redirectUri);
  if (!token.refresh_token) throw new Error('the code exchange issued no refresh token');
  const refreshTokens = analyzingAfter(await appgrantMinter(provider, settings, 'RefreshToken', token.refresh_token), analyzeRecords);
  say(`real flow: ${real.requests} requests to the code, exchanged with a DPoP proof (token_type ${dpopToken.token_type}); ` +
    `a minted code gave a Bearer token for app ${token.app_id} with scope "${token.scope}"`);

  const jwt = await new SignJWT({ scope: 'app' })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT', kid: fixtures.appKey.id })
    .setIssuedAt()
    .sign(new TextEncoder().encode(fixtures.appKey.secret));
  const credentials = {
    Basic: basicAuthorization(fixtures.appKey.id, fixtures.appKey.secret),
    JWT: `Bearer ${jwt}`,
    Bearer: `Bearer ${token.access_token}`,
  };
  const appUrl = `${settings.ISSUER}/v2/apps/${appId}`;
  const dpop = { authorization: `DPoP ${dpopToken.access_token}`, proof: () => dpopKey.proof('GET', appUrl, dpopToken.access_token) };
  let appBody = '';
  for (const [kind, authorization] of Object.entries(credentials)) {
    appBody = await expectOk(`GET /v2/apps/{id} with ${kind}`, await fetch(`${base}/v2/apps/${appId}`, { headers: { authorization } }), (body) => body.includes(appId));
  }
  await expectOk('GET /v2/apps/{id} with DPoP', await fetch(`${base}/v2/apps/${appId}`, { headers: { authorization: dpop.authorization, dpop: dpop.proof() } }), (body) => body.includes(appId));
  await expectOk(
    'introspection',
    await fetch(`${base}/oauth/introspect`, tokenRequest(basicAuthorization(fixtures.resourceServer.id, fixtures.resourceServer.secret), new URLSearchParams({ token: token.access_token, token_type_hint: 'access_token' }).toString())),
    (body) => body.includes('"active":true'),
  );
  await expectOk('refresh', await fetch(`${base}/oauth/token`, tokenRequest(partnerAuthorization, refreshBody((await refreshTokens.mint(1))[0]!))), (body) => body.includes('"access_token"'));

  // The dashboard login form's CSRF cookie and token, fetched once and reused by every login request.
  const browser = new CookieBrowser(base);
  const loginPage = await browser.get('/login');
  const csrfToken = field(await loginPage.text(), '_csrf');
  if (loginPage.status !== 200 || !csrfToken) throw new Error(`GET /login: HTTP ${loginPage.status}, no CSRF token`);

  say('\ndatabase statements per request (the same application built in this process, requests sent one at a time)');
  const census = await queryCensus({
    db,
    settings,
    minter: codes,
    refreshMinter: refreshTokens,
    partner: fixtures.partner,
    resourceServer: fixtures.resourceServer,
    redirectUri,
    accessToken: token.access_token,
    appId,
    credentials,
    dpop,
    login: { cookie: browser.cookieHeader(), csrfToken, owner: fixtures.owner },
    flowOwner: fixtures.flowOwners[0]!,
  });
  for (const entry of census) say(`  ${describeCensus(entry)}`);

  const meter = new CpuMeter(benchDatabase.name);
  const measurements: Measurement[] = [];
  const wanted = (group: ScenarioGroup) => only.has(group);
  const wantedKind = (kind: string) => wanted('v2') || only.has(`v2-${kind}` as ScenarioGroup);

  // With --pgbouncer: PgBouncer in transaction mode (production's pool.ini) in front of
  // the same PostgreSQL, and a second appgrant server on the same database through it.
  let serverViaBouncer: (Child & { base: string }) | undefined;
  if (args.pgbouncer) {
    const admin = new URL(adminUrl);
    if (!['127.0.0.1', 'localhost'].includes(admin.hostname)) throw new Error('--pgbouncer needs PostgreSQL on 127.0.0.1 (the bench starts PgBouncer next to it)');
    bouncer = await startPgBouncer({ port: Number(admin.port || 5432) }, bouncerPoolSize);
    say(`\nPgBouncer pid ${bouncer.pid} on port ${bouncer.port}: pool_mode=transaction (deploy/pgbouncer/pool.ini), ${bouncerPoolSize} server sessions per database`);
    const viaPort = await freePort();
    const child = await startServer('appgrant via PgBouncer', { ...serverEnv, PORT: String(viaPort), DATABASE_URL: bouncer.url(benchDatabase.name) }, viaPort, join(resultsDir, `${stamp}.server-pgbouncer.log`));
    serverViaBouncer = Object.assign(child, { base: `http://127.0.0.1:${viaPort}` });
    say(`appgrant server via PgBouncer pid ${child.pid} at ${serverViaBouncer.base}, same database and issuer`);
  }

  // Every baseline runs in its own process, started now and idle until its
  // turn. Each appgrant scenario is measured side by side with its baselines,
  // in alternating rounds (scenarios.ts), so a machine that slows down or
  // speeds up during the run moves both sides of a ratio alike.
  const engineEnv = (childPort: number, childBase: string) => ({
    PORT: String(childPort),
    ISSUER: childBase,
    PARTNER_ID: fixtures.partner.id,
    PARTNER_SECRET: fixtures.partner.secret,
    RS_ID: fixtures.resourceServer.id,
    RS_SECRET: fixtures.resourceServer.secret,
    REDIRECT_URI: redirectUri,
    SCOPE: token.scope || partnerPermissions.join(' '),
    ACCOUNT_ID: fixtures.owner.accountId,
  });
  /** An engine baseline, with a code of its own minted and exchanged and a refresh token used once, to check it answers like appgrant. */
  async function startEngine(target: Target, script: string, env: Record<string, string>, cpu: CpuMeter): Promise<Side> {
    const child = await startBaseline(target, script, '/__health', (childPort, childBase) => ({ ...engineEnv(childPort, childBase), ...env }));
    const side = { target, base: child.base, probe: probe(child, cpu), codes: engineMinter(child.base, 'code'), refreshTokens: engineMinter(child.base, 'refresh_token') };
    const engineToken = await exchangeCode(child.base, fixtures.partner, (await side.codes.mint(1))[0]!, redirectUri);
    await expectOk(`${target} refresh`, await fetch(`${child.base}/oauth/token`, tokenRequest(partnerAuthorization, refreshBody((await side.refreshTokens.mint(1))[0]!))), (body) => body.includes('"access_token"'));
    return { ...side, accessToken: engineToken.access_token };
  }
  const bare = wanted('bare-oidc') ? await startEngine('bare-oidc', 'bench/baselines/bare-oidc.ts', {}, meter) : undefined;
  const peers: Side[] = [];
  if (wanted('peer-oidc')) {
    const peerDatabase = await createBenchDatabase(adminUrl);
    benchDatabases.push(peerDatabase);
    peers.push(await startEngine('peer-oidc', 'bench/baselines/peer-oidc.ts', { DATABASE_URL: peerDatabase.url }, new CpuMeter(peerDatabase.name)));
    if (bouncer) {
      peers.push(await startEngine('peer-oidc via PgBouncer', 'bench/baselines/peer-oidc.ts', { DATABASE_URL: bouncer.url(peerDatabase.name) }, new CpuMeter(peerDatabase.name, [bouncer.pid])));
    }
  }
  const lean = wanted('unauthenticated')
    ? await startBaseline('unauthenticated-api', 'bench/baselines/unauthenticated-api.ts', '/healthz', (childPort) => ({ PORT: String(childPort), DATABASE_URL: benchDatabase.url }))
    : undefined;
  const koa = wanted('bare-koa')
    ? await startBaseline('bare-koa', 'bench/baselines/bare-koa.ts', '/healthz', (childPort) => ({ PORT: String(childPort), APP_ID: appId, BODY: appBody }))
    : undefined;

  const appgrantSides: Side[] = [
    { target: 'appgrant', base, probe: probe(server, meter), codes, refreshTokens, accessToken: token.access_token },
    ...(serverViaBouncer
      ? [{ target: 'appgrant via PgBouncer' as const, base: serverViaBouncer.base, probe: probe(serverViaBouncer, new CpuMeter(benchDatabase.name, [bouncer!.pid])), codes, refreshTokens, accessToken: token.access_token }]
      : []),
  ];
  const engineSides = [...(bare ? [bare] : []), ...peers];
  const tokenSides = (group: ScenarioGroup) => [...(wanted(group) ? appgrantSides : []), ...engineSides];
  const everyChild = [...appgrantSides, ...engineSides].map((side) => side.probe.child).concat(lean ?? [], koa ?? []);
  const side = async (contenders: Contender[]) => {
    if (!contenders.length) return;
    measurements.push(...(await measureSideBySide(contenders, shape)));
    for (const child of everyChild) ensureRunning(child);
  };
  const connections = shape.connections;
  const tokenTarget = (one: Side, minter: CodeMinter) => ({ target: one.target, base: one.base, partner: fixtures.partner, redirectUri, minter });

  say(`\nmeasurements: each appgrant scenario side by side with its baselines, in ${shape.rounds} alternating rounds`);
  await side(tokenSides('exchange').map((one) => codeExchangeContender(tokenTarget(one, one.codes), connections, one.probe)));
  await side(tokenSides('refresh').map((one) => refreshContender(tokenTarget(one, one.refreshTokens), connections, one.probe)));
  await side(
    tokenSides('introspection').map((one) =>
      httpContender(introspectionLoad({ target: one.target, base: one.base, client: fixtures.resourceServer, accessToken: one.accessToken }), connections, one.probe),
    ),
  );
  await side([
    ...(lean ? [httpContender(appReadLoad('GET /v2/apps/{id}', 'unauthenticated-api', lean.base, appId), connections, probe(lean, meter))] : []),
    ...appgrantSides.flatMap((one) => [
      ...Object.entries(credentials)
        .filter(([kind]) => wantedKind(kind))
        .map(([kind, authorization]) => httpContender(appReadLoad(`GET /v2/apps/{id} ${kind}`, one.target, one.base, appId, authorization), connections, one.probe)),
      ...(wantedKind('DPoP')
        ? [dpopReadContender({ target: one.target, base: one.base, issuer: settings.ISSUER, appId, accessToken: dpopToken.access_token, key: dpopKey }, connections, one.probe)]
        : []),
    ]),
    ...(koa ? [httpContender(appReadLoad('GET /v2/apps/{id}', 'bare-koa', koa.base, appId), connections, probe(koa, meter))] : []),
  ]);
  if (wanted('login')) await side([httpContender(loginLoad(base, browser.cookieHeader(), csrfToken, fixtures.owner), connections, probe(server, meter))]);
  if (wanted('flow')) await side([flowContender({ base, partner: fixtures.partner, redirectUri, owners: fixtures.flowOwners }, shape.flowWorkers, probe(server, meter))]);

  const serverLog = [server, serverViaBouncer].flatMap((child) => (child?.output.trim() ? [`${child.name}:\n${child.output.trim().slice(-2000)}`] : [])).join('\n');
  await stopAllChildren();

  const profiles = args['cpu-prof'] ? join(resultsDir, 'profiles') : undefined;

  const checks = evaluate(measurements);
  const problems = measurements.flatMap((measurement) => problemsOf(measurement).map((problem) => `${measurement.target} ${measurement.name}: ${problem}`));
  say(`\n${measurementsTable(measurements)}`);
  const notes = measurements.flatMap((m) => m.notes.map((note) => `  ${m.target} ${m.name}: ${note}`));
  if (notes.length) say(`\nnotes\n${notes.join('\n')}`);
  say(`\n${checksTable(checks)}`);
  if (quick) say('\n(quick smoke run: the figures are not representative; the targets are for the full run)');
  if (serverLog) say(`\nthe servers wrote (all of it in ${serverLogFile} and next to it; the end):\n${serverLog}`);
  if (profiles) say(`\nserver CPU profiles in ${profiles}`);

  const { KEY_ENCRYPTION_KEYS: _secret, DATABASE_URL: _url, ...publicEnv } = serverEnv;
  const results = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
    mode: quick ? 'quick' : 'full',
    shape,
    scenarios: [...only],
    machine: { ...machineAtStart, postgres, loadAverageAtEnd: loadavg().map((value) => Math.round(value * 100) / 100) },
    server: {
      env: publicEnv,
      idleRssMB,
      logFile: serverLogFile,
      passwordHash: {
        memoryKiB: settings.PASSWORD_HASH_MEMORY_KIB,
        iterations: settings.PASSWORD_HASH_ITERATIONS,
        parallelism: settings.PASSWORD_HASH_PARALLELISM,
      },
    },
    pgbouncer: bouncer ? { poolMode: 'transaction', serverSessionsPerDatabase: bouncerPoolSize } : undefined,
    mintedTemplates: { codes: codes.describe, refreshTokens: refreshTokens.describe },
    queryCensus: census,
    measurements,
    checks,
    problems,
    ok: problems.length === 0,
  };
  const file = join(resultsDir, `${stamp}.json`);
  const json = `${JSON.stringify(results, null, 2)}\n`;
  writeFileSync(file, json);
  writeFileSync(join(resultsDir, 'latest.json'), json);
  say(`\nresults: ${file}`);

  if (problems.length) {
    say(`\nFAILED: scenarios did not answer as expected:\n${problems.map((problem) => `  ${problem}`).join('\n')}`);
    return 1;
  }
  say('\nOK: every scenario answered as expected');
  return 0;
}

/**
 * The appgrant server as `npm start` runs it. One that does not answer its readiness check in
 * time (seen once on a busy shared machine, right after the test suite) is stopped, the
 * last answer printed, and started once more.
 */
async function startServer(name: string, env: Record<string, string>, port: number, logFile: string): Promise<Child> {
  const nodeArgs = [...(args['cpu-prof'] ? ['--cpu-prof', '--cpu-prof-dir', join(resultsDir, 'profiles')] : []), ...(args['node-arg'] ?? [])];
  const options = { name, script: 'bin/appgrant-server', env, nodeArgs, readyUrl: `http://127.0.0.1:${port}/readyz`, logFile };
  return startChild(options).catch((error: unknown) => {
    say(`${name} did not start: ${error instanceof Error ? error.message : String(error)}\ntrying once more`);
    return startChild(options);
  });
}

/** A baseline in its own process on a free port; `base` is its URL. */
async function startBaseline(
  name: string,
  script: string,
  readyPath: string,
  env: (port: number, base: string) => Record<string, string>,
): Promise<Child & { base: string }> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const child = await startChild({ name, script, env: { NODE_ENV: 'development', ...env(port, base) }, readyUrl: `${base}${readyPath}` });
  return Object.assign(child, { base });
}

let exitCode: number;
try {
  exitCode = await main();
} catch (error) {
  if (!interrupted) say(`\nbench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  exitCode = 1;
} finally {
  await cleanup();
}
process.exit(exitCode);
