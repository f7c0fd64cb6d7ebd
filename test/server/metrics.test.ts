import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createPartner } from '../../src/partners/partners.ts';
import { passwordHasherFor } from '../../src/accounts/password-hasher.ts';
import { CookieBrowser, field } from '../support/browser.ts';
import { appKey, basic, call, keyEncryptionEnv, oauthToken } from '../support/credentials.ts';
import { exchangeCode } from '../support/flow.ts';
import { eventually, startNoticeReceiver, type NoticeReceiver } from '../support/notices.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { basicAuth } from '../support/basic.ts';

/**
 * The metrics an operator alerts on (src/server/metrics.ts): each counter
 * moves when the thing it counts happens through the real HTTP surface, and
 * every metric the shipped alerting rules and dashboard name is one /metrics
 * serves, with the label values they select on.
 */

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The Prometheus text exposition format, sample lines only. */
function parseExposition(text: string): Sample[] {
  return text
    .split('\n')
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)/.exec(line);
      if (!match) throw new Error(`not a sample line: ${line}`);
      const labels = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((pair) => [pair[1]!, pair[2]!]));
      return { name: match[1]!, labels, value: Number(match[3]) };
    });
}

let server: TestServer;

async function scrape(): Promise<Sample[]> {
  const response = await fetch(`${server.url}/metrics`);
  expect(response.status).toBe(200);
  return parseExposition(await response.text());
}

/** The value of the one sample with this name and these labels (0 when there is none). */
function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.filter((sample) => sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value));
  return found.reduce((sum, sample) => sum + sample.value, 0);
}

/** How much each counter moved between two scrapes. */
function delta(before: Sample[], after: Sample[]) {
  return (name: string, labels: Record<string, string> = {}) => valueOf(after, name, labels) - valueOf(before, name, labels);
}

const receivers: NoticeReceiver[] = [];

beforeAll(async () => {
  server = await startTestServer({
    ...keyEncryptionEnv,
    LOGIN_MAX_FAILURES_PER_ACCOUNT: '2',
    NOTICE_POLL_INTERVAL_MS: '100',
    NOTICE_RETRY_BASE_MS: '50',
    NOTICE_MAX_ATTEMPTS: '2',
  });
});

afterAll(async () => {
  await Promise.all(receivers.map((receiver) => receiver.close()));
  await server?.close();
});

describe('metrics move with what they count', () => {
  it('tokens issued by grant type, token errors by code, introspections by result', async () => {
    const owner = await server.createOwner();
    const partner = await server.createPartner();
    const client = { id: partner.partner.id, secret: partner.clientSecret };
    const before = await scrape();

    const tokens = await oauthToken(server.url, client, { email: owner.account.email, password: owner.password }, owner.apps[0]!.id);
    const refreshed = await exchangeCode(server.url, client, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token });
    expect(refreshed.status).toBe(200);
    expect((await exchangeCode(server.url, client, { code: 'no-such-code' })).status).toBe(400);
    expect((await exchangeCode(server.url, { id: client.id, secret: 'wrong' }, { code: 'no-such-code' })).status).toBe(401);
    const introspect = (secret: string, token: string) =>
      fetch(`${server.url}/oauth/introspect`, {
        method: 'POST',
        headers: { authorization: basicAuth(client.id, secret), 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token }),
      });
    const { access_token: fresh } = (await refreshed.json()) as { access_token: string };
    expect(await (await introspect(client.secret, fresh)).json()).toMatchObject({ active: true });
    expect(await (await introspect(client.secret, 'not-a-token')).json()).toEqual({ active: false });
    expect((await introspect('wrong', fresh)).status).toBe(401);

    const moved = delta(before, await scrape());
    expect(moved('appgrant_oauth_tokens_issued_total', { grant_type: 'authorization_code' })).toBe(1);
    expect(moved('appgrant_oauth_tokens_issued_total', { grant_type: 'refresh_token' })).toBe(1);
    expect(moved('appgrant_oauth_token_errors_total', { error: 'invalid_grant' })).toBe(1);
    expect(moved('appgrant_oauth_token_errors_total', { error: 'invalid_client' })).toBe(1);
    expect(moved('appgrant_oauth_introspections_total', { result: 'active' })).toBe(1);
    expect(moved('appgrant_oauth_introspections_total', { result: 'inactive' })).toBe(1);
    expect(moved('appgrant_oauth_introspections_total', { result: 'error' })).toBe(1);
  });

  it('/v2 authorizations by credential kind, outcome and reason; keys created and revoked', async () => {
    const owner = await server.createOwner();
    const app = owner.apps[0]!;
    const partner = await server.createPartner({ permissions: ['app:read'] });
    const bearer = await oauthToken(server.url, { id: partner.partner.id, secret: partner.clientSecret }, { email: owner.account.email, password: owner.password }, app.id);
    const key = await appKey(server.db, app);
    const expired = await appKey(server.db, app);
    await server.db('api_keys').where({ id: expired.id }).update({ expires_at: new Date(Date.now() - 60_000) });
    const elsewhere = await appKey(server.db, app, { allowedIps: ['192.0.2.0/24'] });
    const before = await scrape();

    expect((await call(server.url, 'GET', `/v2/apps/${app.id}`, { auth: `Bearer ${bearer.access_token}` })).status).toBe(200);
    expect((await call(server.url, 'GET', `/v2/apps/${app.id}/keys`, { auth: `Bearer ${bearer.access_token}` })).status).toBe(403);
    expect((await call(server.url, 'GET', `/v2/apps/${app.id}`)).status).toBe(401);
    expect((await call(server.url, 'GET', `/v2/apps/${app.id}`, { auth: basic({ id: key.id, secret: 'wrong' }) })).status).toBe(401);
    expect((await call(server.url, 'GET', `/v2/apps/${app.id}`, { auth: basic(expired) })).status).toBe(403);
    expect((await call(server.url, 'GET', `/v2/apps/${app.id}`, { auth: basic(elsewhere) })).status).toBe(403);
    const created = await call(server.url, 'POST', `/v2/apps/${app.id}/keys`, { auth: basic(key), body: { displayName: 'Made by the API' } });
    expect(created.status).toBe(201);
    const { key: made } = (await created.json()) as { key: { id: string } };
    expect((await call(server.url, 'DELETE', `/v2/apps/${app.id}/keys/${made.id}`, { auth: basic(key) })).status).toBe(200);

    const moved = delta(before, await scrape());
    const decisions = 'appgrant_api_authorizations_total';
    expect(moved(decisions, { credential: 'bearer', outcome: 'allowed', reason: 'none' })).toBe(1);
    expect(moved(decisions, { credential: 'bearer', outcome: 'forbidden', reason: 'permission' })).toBe(1);
    expect(moved(decisions, { credential: 'none', outcome: 'unauthorized', reason: 'missing' })).toBe(1);
    expect(moved(decisions, { credential: 'basic', outcome: 'unauthorized', reason: 'invalid' })).toBe(1);
    expect(moved(decisions, { credential: 'basic', outcome: 'forbidden', reason: 'expired' })).toBe(1);
    expect(moved(decisions, { credential: 'basic', outcome: 'forbidden', reason: 'ip_not_allowed' })).toBe(1);
    expect(moved(decisions, { credential: 'basic', outcome: 'allowed', reason: 'none' })).toBe(2);
    expect(moved('appgrant_api_keys_created_total', { level: 'app' })).toBe(1);
    expect(moved('appgrant_api_keys_revoked_total')).toBe(1);
  });

  it('logins by outcome: ok, failed, throttled', async () => {
    const owner = await server.createOwner();
    const before = await scrape();
    const logIn = async (password: string) => {
      const browser = new CookieBrowser(server.url);
      const page = await (await browser.get('/login')).text();
      return browser.post('/login', { _csrf: field(page, '_csrf') ?? '', email: owner.account.email, password });
    };
    expect((await logIn(owner.password)).status).toBe(303);
    const statuses = [];
    for (let attempt = 0; attempt < 4; attempt += 1) statuses.push((await logIn('not the password')).status);
    expect(statuses).toContain(429);

    const moved = delta(before, await scrape());
    expect(moved('appgrant_logins_total', { outcome: 'ok' })).toBe(1);
    expect(moved('appgrant_logins_total', { outcome: 'failed' })).toBe(statuses.filter((status) => status !== 429).length);
    expect(moved('appgrant_logins_total', { outcome: 'throttled' })).toBe(statuses.filter((status) => status === 429).length);
  });

  it('notices delivered, failed and given up; none left pending', async () => {
    const hasher = passwordHasherFor(server.settings);
    const listening = await startNoticeReceiver();
    const refusing = await startNoticeReceiver({ fallback: { status: 500 } });
    receivers.push(listening, refusing);
    const before = await scrape();
    for (const receiver of [listening, refusing]) {
      const owner = await server.createOwner();
      const { partner, clientSecret } = await createPartner(server.db, hasher, server.settings, {
        name: 'Notified Integration',
        redirectUris: ['https://partner.example/callback'],
        permissions: ['app:read'],
      });
      const token = await oauthToken(server.url, { id: partner.id, secret: clientSecret }, { email: owner.account.email, password: owner.password }, owner.apps[0]!.id);
      // Registered after the installation: the removal's is the one notice counted here.
      await server.db('partners').where({ id: partner.id }).update({ remove_url: `${receiver.url}/removed` });
      expect((await call(server.url, 'DELETE', '/oauth/authorization', { auth: `Bearer ${token.access_token}` })).status).toBe(204);
    }
    await listening.waitFor(1);
    await refusing.waitFor(2);
    const after = await eventually(async () => {
      const samples = await scrape();
      return valueOf(samples, 'appgrant_notice_deliveries_total', { result: 'gave_up' }) > valueOf(before, 'appgrant_notice_deliveries_total', { result: 'gave_up' }) && samples;
    });
    const moved = delta(before, after);
    expect(moved('appgrant_notice_deliveries_total', { result: 'delivered' })).toBe(1);
    expect(moved('appgrant_notice_deliveries_total', { result: 'failed' })).toBe(1);
    expect(moved('appgrant_notice_deliveries_total', { result: 'gave_up' })).toBe(1);
    expect(valueOf(after, 'appgrant_notices_pending')).toBe(0);
    expect(valueOf(after, 'appgrant_notices_oldest_pending_age_seconds')).toBe(0);
  });

  it('gauges of state: notices waiting, the signing key age, the database pool', async () => {
    await server.db('removal_notices').insert({
      id: 'ntc_waiting_for_metrics',
      partner_id: (await server.createPartner()).partner.id,
      app_id: 'app',
      authorization_id: 'authorization',
      url: 'http://127.0.0.1:9/never',
      payload: JSON.stringify({}),
      next_attempt_at: new Date(Date.now() + 3_600_000),
      created_at: new Date(Date.now() - 120_000),
    });
    const samples = await scrape();
    expect(valueOf(samples, 'appgrant_notices_pending')).toBe(1);
    expect(valueOf(samples, 'appgrant_notices_oldest_pending_age_seconds')).toBeGreaterThanOrEqual(119);
    expect(valueOf(samples, 'appgrant_notices_backlog_scrape_ok')).toBe(1);
    const keyAge = valueOf(samples, 'appgrant_signing_key_age_seconds');
    expect(keyAge).toBeGreaterThanOrEqual(0);
    expect(keyAge).toBeLessThan(600);
    expect(samples.filter((sample) => sample.name === 'appgrant_db_pool_connections').map((sample) => sample.labels.state).sort()).toEqual(['idle', 'in_use']);
    expect(valueOf(samples, 'appgrant_db_pool_connections')).toBeGreaterThanOrEqual(1);
    expect(samples.some((sample) => sample.name === 'appgrant_db_pool_waiting')).toBe(true);
    await server.db('removal_notices').where({ id: 'ntc_waiting_for_metrics' }).delete();
  });

  it('no label takes its value from the request: unknown grant types and error codes become "other" or a fixed code', async () => {
    const partner = await server.createPartner();
    const odd = await exchangeCode(server.url, { id: partner.partner.id, secret: partner.clientSecret }, { grant_type: 'urn:made-up:grant', code: 'x' });
    expect(odd.status).toBe(400);
    const samples = await scrape();
    const values = (name: string, label: string) => new Set(samples.filter((sample) => sample.name === name).map((sample) => sample.labels[label]));
    expect([...values('appgrant_oauth_token_errors_total', 'error')].every((code) => /^[a-z_]+$/.test(code ?? ''))).toBe(true);
    expect(values('appgrant_oauth_tokens_issued_total', 'grant_type').has('urn:made-up:grant')).toBe(false);
  });
});

/** PromQL words that are not metric names. */
const promqlWords = new Set(['and', 'or', 'unless', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'offset', 'inf', 'nan']);

/** The metric names an expression reads, and the label=value matchers it selects them with. */
function selectors(expression: string): { name: string; labels: Record<string, string> }[] {
  const found: { name: string; labels: Record<string, string> }[] = [];
  const withoutGrouping = expression.replace(/\b(by|without|on|ignoring)\s*\([^)]*\)/g, ' ');
  const pattern = /([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{[^}]*\})?(\s*\()?/g;
  const bare = withoutGrouping.replace(/"(?:[^"\\]|\\.)*"/g, (quoted) => quoted.replace(/[a-zA-Z_]/g, 'x'));
  for (const match of bare.matchAll(pattern)) {
    const [, name, , call] = match;
    if (!name || call || promqlWords.has(name.toLowerCase()) || /^\d/.test(name) || /^[smhdwy]$/.test(name)) continue;
    const braces = withoutGrouping.slice(match.index + name.length).match(/^\s*\{([^}]*)\}/)?.[1] ?? '';
    const labels = Object.fromEntries([...braces.matchAll(/(\w+)\s*=\s*"([^"]*)"/g)].map((pair) => [pair[1]!, pair[2]!]));
    found.push({ name, labels });
  }
  return found;
}

const root = fileURLToPath(new URL('../../', import.meta.url));
const alertRules = parse(readFileSync(`${root}ops/prometheus/alerts.yml`, 'utf8')) as {
  groups: { name: string; rules: { alert: string; expr: string; for?: string; labels: { severity: string }; annotations: { summary: string; description: string } }[] }[];
};
const dashboard = JSON.parse(readFileSync(`${root}ops/grafana/appgrant.json`, 'utf8')) as {
  panels: { type: string; title: string; targets?: { expr: string }[] }[];
  templating: { list: { definition: string }[] };
};
/** Prometheus's own series for each scrape target, which no /metrics serves. */
const scrapeSeries = new Set(['up']);

describe('the alerting rules and the dashboard name only metrics /metrics serves', () => {
  const expressions = [
    ...alertRules.groups.flatMap((group) => group.rules.map((rule) => ({ where: `alert ${rule.alert}`, expr: rule.expr }))),
    ...dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target) => ({ where: `panel "${panel.title}"`, expr: target.expr }))),
    ...dashboard.templating.list.map((variable) => ({ where: 'dashboard variable', expr: variable.definition.replace(/^label_values\((\w+),.*$/, '$1') })),
  ];

  it('finds the metrics in every expression (the extraction itself works)', () => {
    expect(selectors('sum by (le) (rate(appgrant_x_bucket{route="/oauth/token", status=~"5.."}[5m])) > 0.5 and up{job="a"}')).toEqual([
      { name: 'appgrant_x_bucket', labels: { route: '/oauth/token' } },
      { name: 'up', labels: { job: 'a' } },
    ]);
    expect(expressions.length).toBeGreaterThan(30);
    for (const { where, expr } of expressions) expect(selectors(expr).length, where).toBeGreaterThan(0);
  });

  it('every alert has a severity, a summary and a description', () => {
    for (const rule of alertRules.groups.flatMap((group) => group.rules)) {
      expect(['critical', 'warning', 'info'], rule.alert).toContain(rule.labels.severity);
      expect(rule.annotations.summary && rule.annotations.description, rule.alert).toBeTruthy();
    }
  });

  it('each metric and each label value they select exists after the server has been exercised', async () => {
    const samples = await scrape();
    const missing: string[] = [];
    for (const { where, expr } of expressions) {
      for (const { name, labels } of selectors(expr)) {
        if (scrapeSeries.has(name)) continue;
        const ofName = samples.filter((sample) => sample.name === name);
        if (!ofName.length) missing.push(`${where}: ${name}`);
        else if (!ofName.some((sample) => Object.entries(labels).every(([label, value]) => sample.labels[label] === value))) {
          missing.push(`${where}: ${name}${JSON.stringify(labels)}`);
        }
      }
    }
    expect(missing).toEqual([]);
  });
});
