import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type Router from '@koa/router';
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openApiDocument, openApiText } from '../../src/api/openapi.ts';
import type { AccessRule } from '../../src/api/access.ts';
import { forbiddenBody, forbiddenSchema } from '../../src/http/problems.ts';
import { defaultAppSettings } from '../../src/apps/apps.ts';
import { createServices, routersOf, type Services } from '../../src/server/app.ts';
import { createLogger } from '../../src/log/logger.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { call, checkedFetch, expectDescribed, expectDescribedNotice } from '../support/contract.ts';
import { CookieBrowser } from '../support/browser.ts';
import { authorizeThroughPages } from '../support/flow.ts';
import { basicAuth } from '../support/basic.ts';

/**
 * The OpenAPI document is the contract: valid OpenAPI 3.1, committed as
 * docs/openapi.json exactly as generated, served at /openapi.json, and
 * describing every route the API serves with the access it enforces. The
 * answers themselves are checked against it by the API tests
 * (test/support/contract.ts); here, that the check refuses what it must.
 */

const exportToken = 'e'.repeat(40);
let server: TestServer;
let services: Services;

beforeAll(async () => {
  // With the export's token, so that GET /ops/events exists.
  server = await startTestServer({ EVENTS_EXPORT_TOKEN: exportToken });
  services = await createServices(server.db, server.settings, createLogger('silent'));
});

afterAll(async () => {
  services?.signingKeys.stop();
  await server?.close();
});

async function validateOpenApi(document: unknown) {
  const validator = new Validator();
  const result = await validator.validate(structuredClone(document) as Parameters<Validator['validate']>[0]);
  return { ...result, version: validator.version };
}

type JsonObject = Record<string, unknown>;
type Paths = Record<string, Record<string, JsonObject>>;

describe('the OpenAPI document', () => {
  it('is valid OpenAPI 3.1 by a maintained validator', async () => {
    const result = await validateOpenApi(openApiDocument());
    expect(result.errors, JSON.stringify(result.errors)).toBeUndefined();
    expect(result).toMatchObject({ valid: true, version: '3.1' });
  });

  it('the validator is not lenient: a response without a description, or a parameter without its place, is refused', async () => {
    const document = openApiDocument() as { paths: Paths };
    const withoutDescription = structuredClone(document);
    delete (withoutDescription.paths['/v2/apps']!.get!.responses as Record<string, JsonObject>)['200']!.description;
    expect((await validateOpenApi(withoutDescription)).valid).toBe(false);
    const parameterWithoutPlace = structuredClone(document);
    delete (parameterWithoutPlace.paths['/v2/apps']!.get!.parameters as JsonObject[])[0]!.in;
    expect((await validateOpenApi(parameterWithoutPlace)).valid).toBe(false);
  });

  it('docs/openapi.json is exactly what the generator writes', () => {
    const committed = readFileSync(fileURLToPath(new URL('../../docs/openapi.json', import.meta.url)), 'utf8');
    expect(committed === openApiText(), 'docs/openapi.json is stale: run `npm run openapi` and commit docs/openapi.json').toBe(true);
  });

  it('GET /openapi.json serves it, naming this server, to any origin', async () => {
    const response = await fetch(`${server.url}/openapi.json`, { headers: { origin: 'https://docs.example' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
    const served = (await response.json()) as JsonObject;
    expect(served.servers).toEqual([{ url: server.issuer }]);
    expect(served).toEqual(openApiDocument(server.issuer));
    expect((await validateOpenApi(served)).valid).toBe(true);
  });

  it('describes the signing keys partners verify notices with, as GET /oauth/jwks serves them', async () => {
    const response = await checkedFetch(`${server.url}/oauth/jwks`);
    expect(response.status).toBe(200);
    expect(((await response.json()) as { keys: unknown[] }).keys.length).toBeGreaterThan(0);
  });

  it('only GET and HEAD are answered at /openapi.json', async () => {
    const response = await fetch(`${server.url}/openapi.json`, { method: 'POST', headers: { accept: 'application/json' } });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toMatch(/GET/);
  });

  it('the 403 it describes is the exact body the API sends', () => {
    const document = openApiDocument() as { components: { responses: Record<string, { content: Record<string, { example: unknown }> }> } };
    expect(document.components.responses.Forbidden!.content['application/json']!.example).toEqual(JSON.parse(forbiddenBody));
    expect(JSON.stringify(forbiddenSchema.parse(JSON.parse(forbiddenBody)))).toBe(forbiddenBody);
    expect(forbiddenSchema.safeParse({ requestError: { serviceException: { messageId: 'FORBIDDEN', text: 'Forbidden', extra: 1 } } }).success).toBe(false);
  });
});

interface RouteLayer {
  path: string;
  methods: string[];
  stack: ((...args: unknown[]) => unknown)[];
}

/** Each method and path a router answers, with the access rule its authorize step enforces. */
function routesOf(router: Router): { method: string; path: string; rule: AccessRule | undefined }[] {
  return (router.stack as unknown as RouteLayer[])
    .filter((layer) => layer.methods.length > 0)
    .flatMap((layer) =>
      layer.methods
        .filter((method) => method !== 'HEAD')
        .map((method) => ({
          method: method.toLowerCase(),
          path: layer.path.replace(/:(\w+)/g, '{$1}'),
          rule: layer.stack.map((step) => (step as { accessRule?: AccessRule }).accessRule).find(Boolean),
        })),
    );
}

describe('the document and the routes', () => {
  /** The API's routes: all of /v2, and the site's under /oauth/ and /ops/ (the engine's own are described by hand). */
  function servedRoutes() {
    const { api, site } = routersOf(services);
    const siteApi = site.flatMap(routesOf).filter(({ path }) => path.startsWith('/oauth/') || path.startsWith('/ops/'));
    return [...routesOf(api), ...siteApi];
  }

  it('describes every route the API serves, with the levels and permissions it enforces', () => {
    const { paths } = openApiDocument() as { paths: Paths };
    const routes = servedRoutes();
    expect(routes.length).toBeGreaterThan(10);
    for (const { method, path, rule } of routes) {
      const operation = paths[path]?.[method];
      expect(operation, `${method.toUpperCase()} ${path} is served but not described`).toBeDefined();
      if (!rule) continue;
      expect(operation!['x-levels'], `${method} ${path} levels`).toEqual([...rule.levels]);
      expect(operation!['x-permissions'], `${method} ${path} permissions`).toEqual([...rule.permissions]);
    }
  });

  it('describes no /v2 route the API does not serve', () => {
    const { paths } = openApiDocument() as { paths: Paths };
    const served = new Set(servedRoutes().map(({ method, path }) => `${method} ${path}`));
    const described = Object.entries(paths)
      .filter(([path]) => path.startsWith('/v2/') || path === '/oauth/authorization' || path === '/ops/events')
      .flatMap(([path, methods]) => Object.keys(methods).map((method) => `${method} ${path}`));
    expect(described.filter((operation) => !served.has(operation))).toEqual([]);
  });
});

describe('the contract check refuses what the document does not describe', () => {
  const app = { id: 'a'.repeat(24), displayName: 'A', settings: {}, metadata: null };
  const jsonAnswer = (body: unknown, status = 200, headers: Record<string, string> = {}) =>
    new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json; charset=utf-8', ...headers } });
  const url = (path: string) => `${server.url}${path}`;
  const settings = defaultAppSettings;

  it('accepts an answer as described', async () => {
    await expectDescribed('GET', url(`/v2/apps/${app.id}`), jsonAnswer({ app: { ...app, settings } }));
  });

  it.each([
    ['a field it does not name', 'GET', `/v2/apps/${'a'.repeat(24)}`, () => jsonAnswer({ app: { ...app, settings, secret: 'x' } }), /does not match/],
    ['a missing field', 'GET', `/v2/apps/${'a'.repeat(24)}`, () => jsonAnswer({ app: { ...app, settings: {} } }), /does not match/],
    ['a status it does not list', 'GET', '/v2/apps', () => jsonAnswer({ errors: [{ code: 'x', title: 'x' }] }, 409), /does not describe this status/],
    ['a route it does not describe', 'GET', '/v2/nothing', () => jsonAnswer({}), /describes no such operation/],
    ['a content type it does not list', 'GET', '/v2/apps', () => new Response('<html>', { status: 200, headers: { 'content-type': 'text/html' } }), /content type/],
    ['a 401 without its challenge', 'GET', '/v2/apps', () => jsonAnswer({ errors: [{ code: 'unauthorized', title: 'x' }] }, 401), /WWW-Authenticate/],
    ['a 403 with another body', 'GET', '/v2/apps', () => jsonAnswer({ errors: [{ code: 'forbidden', title: 'x' }] }, 403), /does not match/],
    ['a body where none is described', 'POST', '/oauth/revoke', () => jsonAnswer({}), /no body/],
  ])('refuses %s', async (_name, method, path, answer, message) => {
    await expect(expectDescribed(method, url(path), answer())).rejects.toThrow(message);
  });
});

describe('the notice webhook', () => {
  const signature = 't=1700000000,kid=k1,es256=abc_-';
  const notice = { id: 'ntc_1', event: 'integration.removed', clientId: 'ptn_1', occurredAt: '2026-01-01T00:00:00.000Z', appId: 'a', authorizationId: 'b', removedAt: '2026-01-01T00:00:00.000Z', cause: 'owner' };
  const headers = (extra: Record<string, string> = {}) => ({ 'content-type': 'application/json', 'appgrant-signature': signature, ...extra });

  it('accepts a notice as described', () => {
    expectDescribedNotice(headers(), JSON.stringify(notice));
  });

  it.each([
    ['a field its event does not have', headers(), { ...notice, permissions: [] }, /does not match/],
    ['a missing field', headers(), { ...notice, cause: undefined }, /does not match/],
    ['an unknown event', headers(), { ...notice, event: 'integration.renamed' }, /does not match/],
    ['no signature', { 'content-type': 'application/json' }, notice, /appgrant-signature/],
    ['a malformed signature', headers({ 'appgrant-signature': 'sig' }), notice, /does not match/],
  ])('refuses %s', (_name, sent, body, message) => {
    expect(() => expectDescribedNotice(sent, JSON.stringify(body))).toThrow(message);
  });
});

describe('the OAuth answers, as described', () => {
  const form = (fields: Record<string, string>) => new URLSearchParams(fields);
  const unknownClient = basicAuth('nobody:nothing');
  let partner: { id: string; secret: string };
  let clientAuth: string;
  let owner: Awaited<ReturnType<TestServer['createOwner']>>;

  beforeAll(async () => {
    const created = await server.createPartner({ permissions: ['app:read', 'keys:manage'] });
    partner = { id: created.partner.id, secret: created.clientSecret };
    clientAuth = basicAuth(partner.id, partner.secret);
    owner = await server.createOwner({ appNames: ['Described'] });
  });

  async function code(): Promise<string> {
    const callback = await authorizeThroughPages(new CookieBrowser(server.url), { client_id: partner.id, response_type: 'code' }, { email: owner.account.email, password: owner.password }, { appId: owner.apps[0]!.id });
    return callback.searchParams.get('code')!;
  }

  const post = (path: string, body: URLSearchParams | object, auth = clientAuth) =>
    checkedFetch(`${server.url}${path}`, {
      method: 'POST',
      headers: { authorization: auth, 'content-type': body instanceof URLSearchParams ? 'application/x-www-form-urlencoded' : 'application/json' },
      body: body instanceof URLSearchParams ? body : JSON.stringify(body),
    });

  it('a code exchanged (form, then JSON), refreshed, introspected, revoked: each answer as described', async () => {
    const formExchange = await post('/oauth/token', form({ grant_type: 'authorization_code', code: await code() }));
    expect(formExchange.status).toBe(200);
    const jsonExchange = await post('/oauth/token', { grant_type: 'authorization_code', code: await code() });
    expect(jsonExchange.status).toBe(200);
    const tokens = (await jsonExchange.json()) as { access_token: string; refresh_token: string; app_id: string };
    expect(tokens.app_id).toBe(owner.apps[0]!.id);

    const refreshed = await post('/oauth/token', form({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token }));
    expect(refreshed.status).toBe(200);
    const { access_token: access } = (await refreshed.json()) as { access_token: string };
    const active = await post('/oauth/introspect', form({ token: access }));
    expect(await active.json()).toMatchObject({ active: true, app_id: owner.apps[0]!.id });

    expect((await post('/oauth/revoke', form({ token: access }))).status).toBe(200);
    expect(await (await post('/oauth/introspect', form({ token: access }))).json()).toEqual({ active: false });
    await expectForbiddenOrGone(access);
  });

  async function expectForbiddenOrGone(token: string): Promise<void> {
    const response = await call(server.url, 'GET', `/v2/apps/${owner.apps[0]!.id}`, { auth: `Bearer ${token}` });
    expect(response.status).toBe(401);
  }

  it.each([
    ['a code that was never issued', form({ grant_type: 'authorization_code', code: 'not-a-code' }), true, 400],
    ['an unknown grant type', form({ grant_type: 'password', username: 'a', password: 'b' }), true, 400],
    ['an unknown client', form({ grant_type: 'authorization_code', code: 'x' }), false, 401],
  ])('%s → the OAuth error shape', async (_name, body, asPartner, status) => {
    const response = await post('/oauth/token', body, asPartner ? clientAuth : unknownClient);
    expect(response.status).toBe(status);
    expect(Object.keys((await response.json()) as object)).toContain('error');
  });

  it('the authorization request, directly or pushed first: each answer as described', async () => {
    const query = { client_id: partner.id, response_type: 'code', state: 'described', code_challenge: 'x'.repeat(43), code_challenge_method: 'S256' };
    const started = await checkedFetch(`${server.url}/oauth/authorize?${new URLSearchParams(query)}`, { redirect: 'manual' });
    expect(started.status).toBe(303);
    const unknown = await checkedFetch(`${server.url}/oauth/authorize?${new URLSearchParams({ ...query, client_id: 'nobody' })}`, { redirect: 'manual' });
    expect(unknown.status).toBe(400);

    const pushed = await post('/oauth/par', form({ client_id: partner.id, response_type: 'code', state: 'pushed' }));
    expect(pushed.status).toBe(201);
    const { request_uri: requestUri } = (await pushed.json()) as { request_uri: string };
    const fromPushed = await checkedFetch(`${server.url}/oauth/authorize?${new URLSearchParams({ client_id: partner.id, request_uri: requestUri })}`, { redirect: 'manual' });
    expect(fromPushed.status).toBe(303);
    expect((await post('/oauth/par', form({ response_type: 'code' }), unknownClient)).status).toBe(401);
  });

  it('introspection and revocation refuse a wrong client with the OAuth error shape', async () => {
    for (const path of ['/oauth/introspect', '/oauth/revoke']) {
      const response = await post(path, form({ token: 'x' }), unknownClient);
      expect(response.status, path).toBe(401);
    }
  });
});
