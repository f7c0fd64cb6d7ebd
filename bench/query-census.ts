import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Knex } from 'knex';
import type { Settings } from '../src/config/settings.ts';
import { createLogger } from '../src/log/logger.ts';
import { createKoaApplication, createServices } from '../src/server/app.ts';
import type { CodeMinter } from './codes.ts';
import { addToApp, basicAuthorization, codeExchangeBody, refreshBody, type Owner, type Partner } from './flow-client.ts';

/**
 * Which database statements each kind of request runs. The server process
 * cannot be instrumented from outside, so the same application is built
 * in this process (createServices + createKoaApplication from src/server/app.ts, the
 * same settings, the same database), served on a spare port, and each kind
 * of request is sent to it one at a time while knex's 'query' event counts
 * the statements. Nothing here is timed.
 */
export interface CensusEntry {
  name: string;
  /** Requests (or flows) sent. */
  samples: number;
  queriesPerRequest: number;
  /** Each distinct statement, labelled by verb and table, with how often one request runs it. */
  statements: { label: string; perRequest: number; sql: string }[];
}

export interface CensusInput {
  db: Knex;
  settings: Settings;
  minter: CodeMinter;
  refreshMinter: CodeMinter;
  partner: Partner;
  resourceServer: Partner;
  redirectUri: string;
  accessToken: string;
  appId: string;
  /** Authorization headers by credential kind. */
  credentials: Record<string, string>;
  /** A DPoP-bound token's Authorization header, and a fresh proof for GET /v2/apps/{appId} each call. */
  dpop: { authorization: string; proof: () => string };
  login: { cookie: string; csrfToken: string; owner: Owner };
  flowOwner: Owner;
}

function label(sql: string, statement: string | undefined): string {
  if (statement) return `prepared ${statement}`;
  const text = sql.replace(/\s+/g, ' ').trim().toLowerCase();
  const verb = /^(select|insert|update|delete|begin|commit|rollback|savepoint|release savepoint|with)/.exec(text)?.[1] ?? text.split(' ')[0]!;
  const table = /(?:from|into|update) "?([a-z_]+)"?/.exec(text)?.[1];
  return table ? `${verb} ${table}` : verb;
}

async function send(base: string, path: string, init: RequestInit, expected: number): Promise<void> {
  const response = await fetch(`${base}${path}`, { ...init, redirect: 'manual' });
  const body = await response.text();
  if (response.status !== expected) throw new Error(`census ${path}: HTTP ${response.status} (expected ${expected}): ${body.slice(0, 200)}`);
}

export async function queryCensus(input: CensusInput, samples = 20): Promise<CensusEntry[]> {
  const { db } = input;
  const services = await createServices(db, input.settings, createLogger('silent'));
  const http = createServer(createKoaApplication(services).callback());
  await new Promise<void>((done) => http.listen(0, '127.0.0.1', done));
  const base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  let current: Map<string, number> | undefined;
  // The name a prepared statement (src/db/statements.ts) runs under, by its SQL.
  const statementNames = new Map<string, string>();
  const onQuery = (query: { sql: string; statement?: string }) => {
    if (!current) return;
    const sql = query.sql.replace(/\btrx\d+\b/g, 'trxN');
    if (query.statement) statementNames.set(sql, query.statement);
    current.set(sql, (current.get(sql) ?? 0) + 1);
  };
  db.on('query', onQuery);
  const entries: CensusEntry[] = [];
  const measure = async (name: string, count: number, one: (index: number) => Promise<void>) => {
    await one(-1); // first one unrecorded: caches (client secret check) warm as in a running server
    const seen = new Map<string, number>();
    current = seen;
    for (let index = 0; index < count; index += 1) await one(index);
    current = undefined;
    const statements = [...seen].map(([sql, times]) => ({ label: label(sql, statementNames.get(sql)), perRequest: Math.round((times / count) * 100) / 100, sql }));
    statements.sort((a, b) => b.perRequest - a.perRequest || a.label.localeCompare(b.label));
    const total = [...seen.values()].reduce((sum, times) => sum + times, 0);
    entries.push({ name, samples: count, queriesPerRequest: Math.round((total / count) * 100) / 100, statements });
  };
  const form = (authorization: string, body: string): RequestInit => ({
    method: 'POST',
    headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' },
    body,
  });
  try {
    const codes = await input.minter.mint(samples + 1);
    await measure('code exchange', samples, () =>
      send(base, '/oauth/token', form(basicAuthorization(input.partner.id, input.partner.secret), codeExchangeBody(codes.pop()!, input.redirectUri)), 200),
    );
    const refreshTokens = await input.refreshMinter.mint(samples + 1);
    await measure('refresh', samples, () =>
      send(base, '/oauth/token', form(basicAuthorization(input.partner.id, input.partner.secret), refreshBody(refreshTokens.pop()!)), 200),
    );
    const introspection = new URLSearchParams({ token: input.accessToken, token_type_hint: 'access_token' }).toString();
    await measure('introspection', samples, () =>
      send(base, '/oauth/introspect', form(basicAuthorization(input.resourceServer.id, input.resourceServer.secret), introspection), 200),
    );
    for (const [kind, authorization] of Object.entries(input.credentials)) {
      await measure(`GET /v2/apps/{id} ${kind}`, samples, () => send(base, `/v2/apps/${input.appId}`, { headers: { authorization } }, 200));
    }
    const { dpop } = input;
    await measure('GET /v2/apps/{id} DPoP', samples, () => send(base, `/v2/apps/${input.appId}`, { headers: { authorization: dpop.authorization, dpop: dpop.proof() } }, 200));
    const { cookie, csrfToken, owner } = input.login;
    const loginBody = new URLSearchParams({ _csrf: csrfToken, email: owner.email, password: owner.password }).toString();
    await measure('dashboard login', 3, () =>
      send(base, '/login', { method: 'POST', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: loginBody }, 303),
    );
    await measure('add-to-app flow', 3, async () => {
      await addToApp({ base, issuer: input.settings.ISSUER, partner: input.partner, redirectUri: input.redirectUri, owner: input.flowOwner });
    });
  } finally {
    db.off('query', onQuery);
    await new Promise<void>((done) => http.close(() => done()));
  }
  return entries;
}

/** "11 queries: 3× select oauth_records, 2× insert oauth_records, …" */
export function describeCensus(entry: CensusEntry): string {
  const byLabel = new Map<string, number>();
  for (const statement of entry.statements) byLabel.set(statement.label, (byLabel.get(statement.label) ?? 0) + statement.perRequest);
  const parts = [...byLabel].sort((a, b) => b[1] - a[1]).map(([name, times]) => `${Math.round(times * 100) / 100}× ${name}`);
  return `${entry.name}: ${entry.queriesPerRequest} queries per ${entry.name === 'add-to-app flow' ? 'flow' : 'request'} (${parts.join(', ')})`;
}
