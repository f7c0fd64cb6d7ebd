import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseKind } from '../support/database.ts';
import { cleanEnv, newCliStore, repositoryRoot, runCli, type CliResult, type CliStore } from '../support/cli.ts';
import { basicAuth } from '../support/basic.ts';

/**
 * The operator CLI as an operator runs it: real `node bin/appgrant.js`
 * processes, and a real `node src/server/main.ts` beside them, on a fresh
 * data folder (PGlite) or a fresh PostgreSQL database.
 */

const root = repositoryRoot;
const serverPath = join(root, 'src', 'server', 'main.ts');
const onPglite = testDatabaseKind === 'pglite';


function childEnv(store: CliStore, extra: Record<string, string>): NodeJS.ProcessEnv {
  return cleanEnv({ ...store.env, ...extra });
}

function cli(store: CliStore, args: string[], extraEnv: Record<string, string> = {}): Promise<CliResult> {
  return runCli(args, { ...store.env, ...extraEnv });
}

/** Runs a command that must succeed and returns its JSON output. */
async function cliJson<T = Record<string, unknown>>(store: CliStore, args: string[], extraEnv: Record<string, string> = {}): Promise<T> {
  const result = await cli(store, args, extraEnv);
  expect(result.code, `appgrant ${args.join(' ')} failed: ${result.stderr}`).toBe(0);
  expect(result.stderr).toBe('');
  return JSON.parse(result.stdout) as T;
}

/** A command that must be refused as a usage / validation error, with nothing on stdout. */
async function expectUsageError(store: CliStore, args: string[], message: RegExp, extraEnv: Record<string, string> = {}): Promise<CliResult> {
  const result = await cli(store, args, extraEnv);
  expect(result.code, `appgrant ${args.join(' ')}: ${result.stdout}${result.stderr}`).toBe(2);
  expect(result.stdout).toBe('');
  expect(result.stderr.startsWith('appgrant: ')).toBe(true);
  expect(result.stderr).toMatch(message);
  return result;
}

interface ServerProcess {
  url: string;
  child: ChildProcess;
  output(): string;
  /** SIGTERM, then the exit code and how long the exit took. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>;
}

const runningServers = new Set<ChildProcess>();

function startServerProcess(store: CliStore, extraEnv: Record<string, string> = {}): Promise<ServerProcess> {
  const child = spawn(process.execPath, [serverPath], {
    cwd: root,
    env: childEnv(store, { LOG_LEVEL: 'info', PORT: '0', HOST: '127.0.0.1', ...extraEnv }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  runningServers.add(child);
  let stdout = '';
  let stderr = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => {
    child.on('exit', (code, signal) => {
      runningServers.delete(child);
      done({ code, signal });
    });
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the server did not start within 50 s:\n${stdout}\n${stderr}`));
    }, 50_000);
    let pending = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
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
          const url = entry.url;
          resolve({
            url,
            child,
            output: () => stdout + stderr,
            stop: async () => {
              const started = Date.now();
              child.kill('SIGTERM');
              const stopper = setTimeout(() => child.kill('SIGKILL'), 15_000);
              const result = await exited;
              clearTimeout(stopper);
              return { ...result, ms: Date.now() - started };
            },
          });
        }
      }
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`the server exited (${code ?? signal}) before listening:\n${stdout}\n${stderr}`));
    });
  });
}

/** Runs the tasks with at most `limit` at a time (each CLI run is a whole Node process). */
async function inBatches<T>(tasks: Array<() => Promise<T>>, limit: number): Promise<T[]> {
  const results: T[] = [];
  for (let start = 0; start < tasks.length; start += limit) {
    results.push(...(await Promise.all(tasks.slice(start, start + limit).map((task) => task()))));
  }
  return results;
}

async function authorizeStatus(baseUrl: string, clientId: string): Promise<{ status: number; location: string | null }> {
  const response = await fetch(`${baseUrl}/oauth/authorize?${new URLSearchParams({ client_id: clientId, response_type: 'code' })}`, {
    redirect: 'manual',
  });
  await response.arrayBuffer();
  const location = response.headers.get('location');
  return { status: response.status, location: location === null ? null : new URL(location, baseUrl).pathname };
}

async function introspectStatus(baseUrl: string, clientId: string, secret: string): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${baseUrl}/oauth/introspect`, {
    method: 'POST',
    headers: {
      authorization: basicAuth(clientId, secret),
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ token: 'not-a-token-issued-here' }),
  });
  return { status: response.status, body: await response.json() };
}

interface PartnerJson {
  client_id: string;
  client_secret?: string;
  name: string;
  redirect_uris: string[];
  permissions: string[];
  remove_url: string | null;
}

const partnerIds = async (store: CliStore) =>
  (await cliJson<{ partners: PartnerJson[] }>(store, ['partner', 'list'])).partners.map((partner) => partner.client_id);

const acmeArgs = [
  'partner', 'create', '--name', 'Acme Integration',
  '--redirect-uri', 'https://acme.example/oauth/callback',
  '--redirect-uri', 'http://localhost:8080/callback',
  '--permission', 'message:send',
  '--permission', 'app:read',
  '--remove-url', 'https://acme.example/removed',
];

/** A migrated database with one owner (two apps) and the Acme partner, all made by the CLI. */
interface World {
  store: CliStore;
  owner: { id: string; email: string };
  acme: PartnerJson;
}

const stores: CliStore[] = [];

async function freshStore(): Promise<CliStore> {
  const store = await newCliStore('cli');
  stores.push(store);
  return store;
}

async function makeWorld(): Promise<World> {
  const store = await freshStore();
  await cliJson(store, ['migrate']);
  const account = await cliJson(store, ['account', 'create', '--email', 'owner.one@example.com', '--password', 'correct horse battery', '--name', 'Owner One']);
  await cliJson(store, ['app', 'create', '--account', account.id as string, '--name', 'Support']);
  await cliJson(store, ['app', 'create', '--account', account.id as string, '--name', 'Sales']);
  const acme = await cliJson<PartnerJson>(store, acmeArgs);
  return { store, owner: { id: account.id as string, email: 'owner.one@example.com' }, acme };
}

let shared: Promise<World> | undefined;

/**
 * The world the tests that only add to it share, made on first use by the
 * hooks of the groups that need it: every test gets what it relies on from a
 * hook, never from a test before it, so any one of them runs alone.
 */
function sharedWorld(): Promise<World> {
  return (shared ??= makeWorld());
}

afterAll(async () => {
  for (const child of runningServers) child.kill('SIGKILL');
  await new Promise((done) => setTimeout(done, runningServers.size ? 200 : 0));
  await Promise.all(stores.map((store) => store.cleanup()));
});

describe('appgrant CLI', () => {
  it('migrate brings the schema up to date (PostgreSQL only when told to)', { timeout: 90_000 }, async () => {
    const store = await freshStore();
    if (!onPglite) {
      const early = await cli(store, ['account', 'create', '--email', 'early@example.com', '--password', 'long enough password']);
      expect(early.code).toBe(1);
      expect(early.stderr).toMatch(/^appgrant: .*run `appgrant migrate` first/);
      expect(early.stdout).toBe('');
    }
    const first = await cliJson<{ applied: string[] }>(store, ['migrate']);
    expect(first.applied.length).toBeGreaterThan(0);
    const second = await cliJson<{ applied: string[] }>(store, ['migrate']);
    expect(second.applied).toEqual([]);
  });

  it('creates an account, apps by account id and by email, and a partner; lists partners without secrets', { timeout: 90_000 }, async () => {
    const store = await freshStore();
    await cliJson(store, ['migrate']);
    const account = await cliJson(store, ['account', 'create', '--email', 'Owner.One@Example.COM', '--password', 'correct horse battery', '--name', 'Owner One']);
    expect(account).toMatchObject({ email: 'owner.one@example.com', name: 'Owner One' });
    expect(typeof account.id).toBe('string');
    expect(account.id).not.toBe('');
    expect(JSON.stringify(account)).not.toContain('$argon2');
    const owner = { id: account.id as string };

    const byId = await cliJson(store, ['app', 'create', '--account', owner.id, '--name', 'Support']);
    expect(byId).toMatchObject({ name: 'Support', account_id: owner.id });
    expect(typeof byId.id).toBe('string');
    const byEmail = await cliJson(store, ['app', 'create', '--account', 'OWNER.ONE@example.com', '--name', 'Sales']);
    expect(byEmail).toMatchObject({ name: 'Sales', account_id: owner.id });
    expect(byEmail.id).not.toBe(byId.id);

    const created = await cli(store, acmeArgs);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).not.toContain('$argon2');
    const acme = JSON.parse(created.stdout) as PartnerJson;
    expect(acme.client_id).toMatch(/^ptn_/);
    expect(typeof acme.client_secret).toBe('string');
    expect(acme.client_secret!.length).toBeGreaterThanOrEqual(32);
    expect(acme).toMatchObject({
      name: 'Acme Integration',
      redirect_uris: ['https://acme.example/oauth/callback', 'http://localhost:8080/callback'],
      remove_url: 'https://acme.example/removed',
    });
    expect([...acme.permissions].sort()).toEqual(['app:read', 'message:send']);

    const listed = await cli(store, ['partner', 'list']);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).not.toContain('$argon2');
    expect(listed.stdout).not.toContain(acme.client_secret);
    expect(listed.stdout).not.toContain('client_secret');
    expect(listed.stdout).not.toContain('_hash');
    const { partners } = JSON.parse(listed.stdout) as { partners: PartnerJson[] };
    expect(partners).toHaveLength(1);
    expect(partners[0]).toMatchObject({
      client_id: acme.client_id,
      name: 'Acme Integration',
      redirect_uris: ['https://acme.example/oauth/callback', 'http://localhost:8080/callback'],
    });
    expect(partners[0]).not.toHaveProperty('client_secret');
  });

  describe('refuses what is wrong with exit code 2', () => {
    let store: CliStore;

    beforeAll(async () => {
      ({ store } = await sharedWorld());
    }, 180_000);

    it('a missing required option, an unknown command or option, with the usage', { timeout: 60_000 }, async () => {
      await Promise.all([
        expectUsageError(store, ['account', 'create', '--email', 'x@example.com'], /missing --password\nusage: appgrant account create --email E --password P/),
        expectUsageError(store, ['partner', 'create', '--name', 'No Redirect', '--permission', 'app:read'], /missing --redirect-uri\nusage: appgrant partner create/),
        expectUsageError(store, ['app', 'create'], /missing --account, --name/),
        expectUsageError(store, ['frobnicate', 'everything'], /usage: appgrant <command>[\s\S]*appgrant partner list/),
        expectUsageError(store, [], /usage: appgrant <command>/),
        expectUsageError(store, ['partner', 'list', '--bogus'], /bogus[\s\S]*usage: appgrant partner list/),
      ]);
    });

    it('a bad environment value, naming the variable (CLI and server)', { timeout: 60_000 }, async () => {
      await Promise.all([
        expectUsageError(store, ['partner', 'list'], /PORT/, { PORT: 'abc' }),
        expectUsageError(store, ['partner', 'list'], /DATABASE_URL/, { DATABASE_URL: 'not-a-url' }),
        expectUsageError(store, ['partner', 'list'], /LOG_LEVEL/, { LOG_LEVEL: 'loud' }),
        (async () => {
          await expect(startServerProcess(store, { PORT: 'abc' })).rejects.toThrow(/exited \(2\)[\s\S]*appgrant: invalid configuration: PORT/);
        })(),
      ]);
    });

    it('invalid input, with a clear message and nothing written', { timeout: 150_000 }, async () => {
      const before = await partnerIds(store);
      const good = 'a perfectly fine password';
      await inBatches<unknown>(
        [
          () => expectUsageError(store, ['account', 'create', '--email', 'not-an-email', '--password', good], /email/),
          async () => {
            await expectUsageError(store, ['account', 'create', '--email', 'short@example.com', '--password', 'short'], /password: must be at least 12 characters/);
            // Nothing was written: the same email is still free.
            const later = await cliJson(store, ['account', 'create', '--email', 'short@example.com', '--password', good]);
            expect(later.email).toBe('short@example.com');
          },
          () => expectUsageError(store, ['account', 'create', '--email', 'OWNER.ONE@EXAMPLE.com', '--password', good], /already exists/),
          () =>
            expectUsageError(
              store,
              ['partner', 'create', '--name', 'Bad Permission', '--redirect-uri', 'https://bad.example/cb', '--permission', 'teleport:anything'],
              /unknown permission: teleport:anything/,
            ),
          () => expectUsageError(store, ['partner', 'create', '--name', 'Not A URL', '--redirect-uri', 'not a url', '--permission', 'app:read'], /absolute URL/),
          () =>
            expectUsageError(
              store,
              ['partner', 'create', '--name', 'Fragment', '--redirect-uri', 'https://good.example/cb', '--redirect-uri', 'https://bad.example/cb#section', '--permission', 'app:read'],
              /fragment/,
            ),
          () => expectUsageError(store, ['app', 'create', '--account', 'nobody@example.com', '--name', 'Orphan'], /no account nobody@example\.com/),
          // The server POSTs to a removeUrl: none may point at this machine, a private network or cloud metadata.
          () =>
            expectUsageError(
              store,
              ['partner', 'create', '--name', 'Metadata', '--redirect-uri', 'https://good.example/cb', '--permission', 'app:read', '--remove-url', 'http://169.254.169.254/latest/meta-data/'],
              /removeUrl: 169\.254\.169\.254 is a cloud metadata address; removal notices go only to public addresses/,
            ),
          () =>
            expectUsageError(
              store,
              ['partner', 'create', '--name', 'Loopback', '--redirect-uri', 'https://good.example/cb', '--permission', 'app:read', '--remove-url', 'http://2130706433:6379/'],
              /removeUrl: 127\.0\.0\.1 is a loopback address/,
            ),
        ],
        2,
      );
      expect(await partnerIds(store)).toEqual(before);
    });
  });

  describe('with the server running', () => {
    let store: CliStore;
    let owner: World['owner'];
    let acme: PartnerJson;
    let server: ServerProcess | undefined;

    beforeAll(async () => {
      ({ store, owner, acme } = await sharedWorld());
      server = await startServerProcess(store);
    }, 180_000);

    afterAll(async () => {
      await server?.stop();
    });

    it('the server knows a partner created by the CLI, and not an unknown client', { timeout: 20_000 }, async () => {
      const known = await authorizeStatus(server!.url, acme.client_id);
      expect(known.status).toBe(303);
      expect(known.location).toMatch(/^\/interaction\/[^/]+$/);
      const unknown = await authorizeStatus(server!.url, 'ptn_doesnotexist0000000000');
      expect(unknown.status).toBe(400);
    });

    it('the client secret printed by the CLI authenticates the partner', { timeout: 20_000 }, async () => {
      const right = await introspectStatus(server!.url, acme.client_id, acme.client_secret!);
      expect(right.status).toBe(200);
      expect(right.body).toEqual({ active: false });
      const wrong = await introspectStatus(server!.url, acme.client_id, `${acme.client_secret!}x`);
      expect(wrong.status).toBe(401);
    });

    it('a partner created by the CLI while the server runs is known at once', { timeout: 30_000 }, async () => {
      const partner = await cliJson<PartnerJson>(store, ['partner', 'create', '--name', 'Live Partner', '--redirect-uri', 'https://live.example/cb', '--permission', 'app:read']);
      const known = await authorizeStatus(server!.url, partner.client_id);
      expect(known.status).toBe(303);
      expect(known.location).toMatch(/^\/interaction\//);
    });

    it.runIf(onPglite)('hands every command to the server over its control socket (PGlite)', { timeout: 60_000 }, async () => {
      const lock = JSON.parse(readFileSync(join(store.dataDir, 'appgrant.lock'), 'utf8')) as { pid: number; controlSocket?: string };
      expect(lock.pid).toBe(server!.child.pid);
      expect(lock.controlSocket).toBe(join(store.dataDir, 'control.sock'));

      const account = await cliJson(store, ['account', 'create', '--email', 'Served@Example.com', '--password', 'served through the socket']);
      expect(account.email).toBe('served@example.com');
      const app = await cliJson(store, ['app', 'create', '--account', 'served@example.com', '--name', 'Served App']);
      expect(app).toMatchObject({ name: 'Served App', account_id: account.id });
      const partner = await cliJson<PartnerJson>(store, [
        'partner', 'create', '--name', 'Served Partner',
        '--redirect-uri', 'https://served.example/one', '--redirect-uri', 'https://served.example/two',
        '--permission', 'app:read', '--permission', 'users:manage',
      ]);
      expect(partner.redirect_uris).toEqual(['https://served.example/one', 'https://served.example/two']);
      expect([...partner.permissions].sort()).toEqual(['app:read', 'users:manage']);
      expect(typeof partner.client_secret).toBe('string');

      const listed = await cli(store, ['partner', 'list']);
      expect(listed.code, listed.stderr).toBe(0);
      expect(listed.stdout).not.toContain('$argon2');
      expect(listed.stdout).not.toContain(partner.client_secret);
      const ids = (JSON.parse(listed.stdout) as { partners: PartnerJson[] }).partners.map((entry) => entry.client_id);
      expect(ids).toEqual(expect.arrayContaining([acme.client_id, partner.client_id]));
      expect((await authorizeStatus(server!.url, partner.client_id)).status).toBe(303);

      // Mistakes are reported the same way when the server executes the command.
      await Promise.all([
        expectUsageError(store, ['account', 'create', '--email', 'served@example.com', '--password', 'served through the socket'], /already exists/),
        expectUsageError(store, ['partner', 'create', '--name', 'X', '--redirect-uri', 'https://x.example/cb', '--permission', 'nope'], /unknown permission: nope/),
        expectUsageError(store, ['app', 'create', '--account', 'ghost@example.com', '--name', 'X'], /no account ghost@example\.com/),
      ]);
      // The server did the work (it logs each operator command).
      expect(server!.output()).toContain('"msg":"operator command"');
    });

    it('runs 5 CLI commands at once while the server runs', { timeout: 60_000 }, async () => {
      const results = await Promise.all([
        cli(store, ['account', 'create', '--email', 'parallel1@example.com', '--password', 'parallel password 1']),
        cli(store, ['account', 'create', '--email', 'parallel2@example.com', '--password', 'parallel password 2']),
        cli(store, ['app', 'create', '--account', owner.email, '--name', 'Parallel App']),
        cli(store, ['partner', 'create', '--name', 'Parallel Partner', '--redirect-uri', 'https://parallel.example/cb', '--permission', 'app:read']),
        cli(store, ['partner', 'list']),
      ]);
      for (const result of results) expect(result.code, result.stderr).toBe(0);
      const outputs = results.map((result) => JSON.parse(result.stdout) as Record<string, unknown>);
      expect(outputs[0]).toMatchObject({ email: 'parallel1@example.com' });
      expect(outputs[1]).toMatchObject({ email: 'parallel2@example.com' });
      expect(outputs[2]).toMatchObject({ name: 'Parallel App', account_id: owner.id });
      const partner = outputs[3] as unknown as PartnerJson;
      expect(partner.name).toBe('Parallel Partner');
      expect((await authorizeStatus(server!.url, partner.client_id)).status).toBe(303);
    });

    it('stops on SIGTERM with exit code 0 within a few seconds', { timeout: 30_000 }, async () => {
      const health = await fetch(`${server!.url}/healthz`);
      expect(health.status).toBe(200);
      await health.arrayBuffer();
      const stopped = await server!.stop();
      expect(stopped).toMatchObject({ code: 0, signal: null });
      expect(stopped.ms).toBeLessThan(5_000);
      if (onPglite) {
        expect(existsSync(join(store.dataDir, 'appgrant.lock'))).toBe(false);
        expect(existsSync(join(store.dataDir, 'control.sock'))).toBe(false);
      }
      server = undefined;
    });
  });

  describe('after the server stopped', () => {
    let store: CliStore;
    let owner: World['owner'];
    let acme: PartnerJson;
    /** Made through a running server (over its control socket on PGlite), which then stopped. */
    let served: { partnerId: string; email: string };

    beforeAll(async () => {
      ({ store, owner, acme } = await sharedWorld());
      const server = await startServerProcess(store);
      try {
        const partner = await cliJson<PartnerJson>(store, ['partner', 'create', '--name', 'Served Then Stopped', '--redirect-uri', 'https://stopped.example/cb', '--permission', 'app:read']);
        const account = await cliJson(store, ['account', 'create', '--email', 'served.then.stopped@example.com', '--password', 'made while the server ran']);
        served = { partnerId: partner.client_id, email: account.email as string };
      } finally {
        expect((await server.stop()).code).toBe(0);
      }
    }, 180_000);

    it('the CLI works on its own again and sees what was created through the server', { timeout: 90_000 }, async () => {
      expect(await partnerIds(store)).toEqual(expect.arrayContaining([acme.client_id, served.partnerId]));
      await expectUsageError(store, ['account', 'create', '--email', served.email, '--password', 'another long password'], /already exists/);
      const app = await cliJson(store, ['app', 'create', '--account', served.email, '--name', 'After Stop']);
      expect(app.name).toBe('After Stop');
    });

    it.runIf(onPglite)('3 CLI commands at once on one data folder wait for each other (PGlite)', { timeout: 90_000 }, async () => {
      const results = await Promise.all([
        cli(store, ['account', 'create', '--email', 'locked1@example.com', '--password', 'waiting for the lock']),
        cli(store, ['partner', 'create', '--name', 'Locked Partner', '--redirect-uri', 'https://locked.example/cb', '--permission', 'app:read']),
        cli(store, ['app', 'create', '--account', owner.id, '--name', 'Locked App']),
      ]);
      for (const result of results) expect(result.code, result.stderr).toBe(0);
      const partner = JSON.parse(results[1]!.stdout) as PartnerJson;
      expect(await partnerIds(store)).toContain(partner.client_id);
      expect(existsSync(join(store.dataDir, 'appgrant.lock'))).toBe(false);
    });

    it.runIf(onPglite)('a stale lock left by a dead process does not block the CLI (PGlite)', { timeout: 90_000 }, async () => {
      const dead = spawnSync(process.execPath, ['-e', '']).pid;
      expect(typeof dead).toBe('number');
      const lockPath = join(store.dataDir, 'appgrant.lock');

      // A live holder would keep the CLI waiting for 15 s and then fail with exit code 1.
      await writeFile(lockPath, JSON.stringify({ pid: dead }));
      const list = await cliJson<{ partners: PartnerJson[] }>(store, ['partner', 'list']);
      expect(list.partners.map((partner) => partner.client_id)).toContain(acme.client_id);
      expect(existsSync(lockPath)).toBe(false);

      // A dead server's lock, still naming its control socket.
      await writeFile(lockPath, JSON.stringify({ pid: dead, controlSocket: join(store.dataDir, 'control.sock') }));
      const account = await cliJson(store, ['account', 'create', '--email', 'after.stale@example.com', '--password', 'stale locks are ignored']);
      expect(account.email).toBe('after.stale@example.com');
      expect(existsSync(lockPath)).toBe(false);
    });
  });

  describe.runIf(onPglite)('the data-folder lock (PGlite)', () => {
    /**
     * What every CLI run and the server do to take the data folder, repeated
     * as fast as possible by several processes at once: each holder drops a
     * marker while it holds the lock and looks for anybody else's.
     */
    const contender = `
      import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
      import { join } from 'node:path';
      const { acquireDataDirLock, DataDirBusyError } = await import(process.env.LOCK_MODULE);
      const dataDir = process.env.LOCK_DIR;
      const holders = join(dataDir, 'holders');
      mkdirSync(holders, { recursive: true });
      const deadline = Date.now() + 1500;
      let acquired = 0;
      let overlaps = 0;
      while (Date.now() < deadline) {
        let lock;
        try {
          lock = acquireDataDirLock(dataDir, { pid: process.pid });
        } catch (error) {
          if (error instanceof DataDirBusyError) continue;
          throw error;
        }
        acquired += 1;
        const mine = join(holders, String(process.pid));
        writeFileSync(mine, '');
        if (readdirSync(holders).length > 1) overlaps += 1;
        const until = Date.now() + 2;
        while (Date.now() < until);
        rmSync(mine);
        lock.release();
      }
      process.stdout.write(JSON.stringify({ acquired, overlaps }));
    `;

    it('admits one process at a time, however many contend for it', { timeout: 30_000 }, async () => {
      const dataDir = await mkdtemp(join(tmpdir(), 'appgrant-lock-'));
      try {
        const env = {
          PATH: process.env.PATH ?? '',
          LOCK_MODULE: pathToFileURL(join(root, 'src', 'db', 'data-dir-lock.ts')).href,
          LOCK_DIR: dataDir,
        };
        const runs = await Promise.all(
          Array.from(
            { length: 6 },
            () =>
              new Promise<{ acquired: number; overlaps: number }>((resolve, reject) => {
                const child = spawn(process.execPath, ['--input-type=module', '-e', contender], { env, stdio: ['ignore', 'pipe', 'pipe'] });
                let stdout = '';
                let stderr = '';
                child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
                child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
                child.on('error', reject);
                child.on('close', (code) => {
                  if (code === 0) resolve(JSON.parse(stdout) as { acquired: number; overlaps: number });
                  else reject(new Error(`lock contender failed (${code}): ${stderr}`));
                });
              }),
          ),
        );
        const acquired = runs.reduce((sum, run) => sum + run.acquired, 0);
        const overlaps = runs.reduce((sum, run) => sum + run.overlaps, 0);
        expect(acquired).toBeGreaterThan(6);
        expect(overlaps, `${overlaps} of ${acquired} acquisitions happened while another process held the lock`).toBe(0);
      } finally {
        await rm(dataDir, { recursive: true, force: true });
      }
    });
  });
});
