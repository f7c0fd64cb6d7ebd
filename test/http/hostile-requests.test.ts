import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServices, routeTable, routersOf, type Route } from '../../src/server/app.ts';
import { startServer, type RunningServer } from '../../src/server/server.ts';
import { maxJsonDepth } from '../../src/http/request-body.ts';
import { startTestServer, testSettings, type TestServer } from '../support/server.ts';
import { createTestDatabase } from '../support/database.ts';
import { accountKey, basic, keyEncryptionEnv, type IssuedKey } from '../support/credentials.ts';
import { csrfToken, logInToDashboard } from '../support/owner-web.ts';
import { basicAuth } from '../support/basic.ts';
import { newCredential } from '../../src/keys/credential-formats.ts';

/**
 * A hostile round over every route the server has, read from its routers
 * and the engine's endpoint table (routeTable), so a new route is covered
 * the day it is added: wrong and unknown methods, content types, encodings
 * (corrupt, unknown, bombs), sizes however framed, deep nesting, duplicated
 * and array parameters, bad UTF-8 and percent-encoding, NUL, long headers
 * and cookies, malformed Host. Nothing may answer 5xx, or leak a stack, a
 * file path, SQL or an error class name; the refusals made at the edge come
 * in the shape of their route. Requests go over raw sockets, so that any
 * byte can be sent, a few at a time.
 */

interface Probe {
  name: string;
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
  /** Sent with Transfer-Encoding: chunked rather than Content-Length. */
  chunked?: boolean;
  /** The status the edge must answer with, in the route's shape. */
  refusal?: number;
}

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

let server: TestServer;
let routes: Route[];
let app: { id: string };
let key: IssuedKey;
let partnerId: string;
let owner: { cookie: string; csrf: string };
const exportToken = 'e'.repeat(40);

beforeAll(async () => {
  server = await startTestServer({ ...keyEncryptionEnv, EVENTS_EXPORT_TOKEN: exportToken });
  const created = await server.createOwner();
  app = created.apps[0]!;
  key = await accountKey(server.db, created.account.id);
  partnerId = (await server.createPartner({ accountId: created.account.id })).partner.id;
  const { browser } = await logInToDashboard(server.url, { email: created.account.email, password: created.password });
  owner = { csrf: await csrfToken(browser), cookie: browser.cookieHeader() };
  // The routers the server mounts, built once more from the same settings, to list their routes.
  const services = await createServices(server.db, server.settings, pino({ level: 'silent' }));
  routes = routeTable(routersOf(services));
  services.signingKeys.stop();
  await services.counters.close();
}, 120_000);

afterAll(async () => {
  await server?.close();
});

/** One request over its own socket, every byte as given; the answer once the server closes. */
function send(base: string, probe: Probe): Promise<Answer> {
  const { hostname, port } = new URL(base);
  const body = typeof probe.body === 'string' ? Buffer.from(probe.body, 'utf8') : probe.body;
  const headers: Record<string, string> = { host: `${hostname}:${port}`, connection: 'close', ...probe.headers };
  if (body && probe.chunked) headers['transfer-encoding'] = 'chunked';
  else if (body) headers['content-length'] = String(body.length);
  const head = `${probe.method} ${probe.path} HTTP/1.1\r\n${Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join('')}\r\n`;
  const framed = body && probe.chunked ? Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n0\r\n\r\n')]) : body;
  return new Promise((done) => {
    const received: Buffer[] = [];
    const socket = connect(Number(port), hostname, () => socket.write(Buffer.concat([Buffer.from(head, 'latin1'), framed ?? Buffer.alloc(0)])));
    socket.setTimeout(20_000, () => socket.destroy());
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    // A server that answers before reading all of a refused body may reset the rest: the answer is what arrived.
    socket.on('error', () => {});
    socket.on('close', () => done(parse(Buffer.concat(received))));
  });
}

function parse(raw: Buffer): Answer {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) return { status: 0, headers: {}, body: raw.toString('latin1') };
  const [statusLine = '', ...lines] = raw.subarray(0, end).toString('latin1').split('\r\n');
  const headers = Object.fromEntries(lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
  let body = raw.subarray(end + 4);
  if (headers['transfer-encoding'] === 'chunked') body = dechunk(body);
  return { status: Number(statusLine.split(' ')[1] ?? 0), headers, body: body.toString('utf8') };
}

function dechunk(body: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = body.indexOf('\r\n', at);
    const size = parseInt(body.subarray(at, lineEnd).toString('latin1'), 16);
    if (lineEnd < 0 || !size) return Buffer.concat(parts);
    parts.push(body.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
}

/** What a body must never show: a stack frame, a file path, an error class, SQL or a driver's words. */
const internalDetail = [
  /\bat .+\.[cm]?[jt]s:\d+/,
  /\b(?:Type|Range|Reference|Syntax|Internal|Aggregate)Error\b/,
  /node_modules|\/work\/|\/src\/|file:\/\//,
  /\b(?:select|insert into|update|delete from)\b.*\b(?:from|where|values|set)\b/i,
  /syntax error at or near|violates .* constraint|relation "|knex|pglite|postgres|ECONN|EPIPE/i,
];

/** The shape the edge's refusals take on a path: the OAuth error, the API's error list, or a page. */
function expectShape(probe: Probe, answer: Answer): void {
  const label = `${probe.method} ${probe.path} (${probe.name})`;
  if (probe.path.startsWith('/oauth/')) {
    expect(JSON.parse(answer.body), label).toEqual({ error: expect.any(String), error_description: expect.any(String) });
  } else if (probe.path.startsWith('/v2') || !(probe.headers?.accept ?? '*/*').match(/html|\*\/\*/)) {
    expect(JSON.parse(answer.body), label).toEqual({ errors: [{ code: expect.any(String), title: expect.any(String) }] });
  } else {
    expect(answer.headers['content-type'], label).toMatch(/^text\/html/);
  }
}

/** Sends every probe to `base`, `parallel` at a time, and checks each answer; returns how many were sent. */
async function run(probes: Probe[], base = server.url, parallel = 6): Promise<number> {
  const failures: string[] = [];
  let next = 0;
  async function worker(): Promise<void> {
    while (next < probes.length) {
      const probe = probes[next++]!;
      const answer = await send(base, probe);
      const label = `${probe.method} ${probe.path.slice(0, 120)} (${probe.name}) → ${answer.status}`;
      if (answer.status < 200 || answer.status >= 500) failures.push(`${label}: ${answer.body.slice(0, 200)}`);
      const leak = internalDetail.find((pattern) => pattern.test(answer.body));
      if (leak) failures.push(`${label} shows ${leak}: ${answer.body.slice(0, 300)}`);
      if (answer.status === 405 && answer.headers.allow === undefined) failures.push(`${label} without Allow`);
      if (probe.refusal !== undefined) {
        if (answer.status !== probe.refusal) failures.push(`${label}, expected ${probe.refusal}: ${answer.body.slice(0, 200)}`);
        else {
          try {
            expectShape(probe, answer);
          } catch (error) {
            failures.push(`${label}: ${(error as Error).message.split('\n')[0]}`);
          }
        }
      }
    }
  }
  await Promise.all(Array.from({ length: parallel }, worker));
  expect(failures).toEqual([]);
  return probes.length;
}

/** A route's path with its parameters filled in: the fixtures' own ids, or `value` for every one. */
function fill(route: Route, value?: string): string {
  const known: Record<string, string> = { appId: app.id, keyId: key.id, partnerId, name: 'style.css' };
  return route.path.replace(/:(\w+)/g, (_match, name: string) => value ?? known[name] ?? 'unknown-id');
}

const bodyMethods = ['POST', 'PUT', 'PATCH'];
const bodyRoutes = () => routes.filter((route) => route.methods.some((method) => bodyMethods.includes(method)));
const methodOf = (route: Route) => route.methods.find((method) => bodyMethods.includes(method)) ?? route.methods[0]!;

/** Owner credentials where a route can use them: an account key on the API, the dashboard session and its CSRF token elsewhere. */
function signedIn(route: Route): Record<string, string> {
  if (route.path.startsWith('/v2')) return { authorization: basic(key) };
  if (route.path === '/ops/events') return { authorization: `Bearer ${exportToken}` };
  return { cookie: owner.cookie };
}

/** Routes whose action ends the fixtures (sign-out, revoking, removing, rotating): they get the unauthenticated round only. */
const destructive = (route: Route, method: string) => method === 'DELETE' || /logout|revoke|remove|rotate|not-you|abort/.test(route.path);

/** Header sets the round sends to every route; a malformed Host is refused with 400. */
const headerSets: [string, Record<string, string>][] = [
  ['a 20 KB header (Node answers 431 itself)', { 'x-filler': 'h'.repeat(20_000) }],
  ['a 12 KB cookie', { cookie: `a=${'c'.repeat(12_000)}` }],
  ['forged session cookies', { cookie: 'appgrant.owner=forged; appgrant.owner.sig=forged; appgrant.session=x; appgrant.session.sig=y; appgrant.interaction=%00; appgrant.csrf=%ZZ' }],
  ['a cookie of bad bytes', { cookie: 'appgrant.owner=\u00ff\u00fe; =; ;;; a' }],
  ['a malformed Host', { host: '[::1' }],
  ['a Host with userinfo', { host: 'evil.example@127.0.0.1' }],
  ['forwarded headers of garbage', { 'x-forwarded-for': 'not-an-ip, [::1, 999.1.1.1', 'x-forwarded-host': '[::1', 'x-forwarded-proto': 'gopher', forwarded: 'for=";;' }],
  ['Basic of bad base64', { authorization: 'Basic !!!***' }],
  ['Basic without a colon', { authorization: basicAuth('nocolon') }],
  ['a 10 KB Bearer', { authorization: `Bearer ${'A'.repeat(10_000)}` }],
  ['a DPoP token with a garbage proof', { authorization: 'DPoP abc', dpop: 'not.a.jwt' }],
  ['an unknown scheme', { authorization: 'Negotiate \u00ff' }],
  ['Accept of nothing acceptable', { accept: 'image/png' }],
  ['Accept-Encoding and Range of garbage', { 'accept-encoding': 'zstd;q=x', range: 'bytes=9-1', 'if-none-match': '%00' }],
  ['Origin of garbage', { origin: 'null', 'access-control-request-method': 'TRACE' }],
  ['a header with a NUL', { 'x-nul': 'a\u0000b' }],
];

const headerProbes = (route: Route): Probe[] =>
  headerSets.map(([name, headers]) => ({ name, method: route.methods[0]!, path: fill(route), headers, ...(name.includes('Host') ? { refusal: 400 } : {}) }));

const deepJson = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

describe('the route table', () => {
  it('lists the engine endpoints and every router, so this round covers each of them', () => {
    const paths = routes.map((route) => `${route.methods.join(',')} ${route.path}`);
    for (const expected of ['POST /oauth/token', 'GET /oauth/authorize', 'POST /v2/apps', 'PATCH /v2/apps/:appId', 'POST /login', 'POST /partners', 'GET /ops/events', 'DELETE /oauth/authorization']) {
      expect(paths).toContain(expected);
    }
    expect(routes.length).toBeGreaterThan(40);
  });
});

describe('a hostile round over every route: never a 5xx, never an internal detail', () => {
  it('unknown and wrong methods: 405 with Allow, in the shape of the route', async () => {
    const probes = routes.flatMap((route) => {
      const path = fill(route);
      const unknown = ['TRACE', 'PROPFIND', 'MKCOL', 'LOCK'].map((method) => ({ name: 'unknown method', method, path, refusal: 405 }));
      const others = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD', 'SEARCH']
        .filter((method) => !route.methods.includes(method))
        .map((method) => ({ name: 'another method', method, path, headers: { accept: 'application/json' } }));
      return [...unknown, ...others];
    });
    await run(probes);
  }, 120_000);

  it('bodies: encodings, sizes however framed, nesting, types, parameters', async () => {
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const json = { 'content-type': 'application/json' };
    const garbage = Buffer.from('this is not compressed at all');
    const bomb = gzipSync(Buffer.alloc(20 * 1024 * 1024, 0x61));
    const probes = bodyRoutes().flatMap((route): Probe[] => {
      const method = methodOf(route);
      const path = fill(route);
      const edge = (name: string, headers: Record<string, string>, body: Buffer | string, refusal: number, chunked = false): Probe => ({ name, method, path, headers, body, refusal, chunked });
      return [
        edge('60 000 levels of JSON', json, deepJson(60_000), 400),
        edge(`JSON one level too deep`, json, deepJson(maxJsonDepth + 1), 400),
        edge('chunked JSON, deeply nested', json, deepJson(60_000), 400, true),
        edge('corrupt gzip', { ...form, 'content-encoding': 'gzip' }, garbage, 400),
        edge('corrupt deflate', { ...json, 'content-encoding': 'deflate' }, garbage, 400),
        edge('corrupt br', { ...form, 'content-encoding': 'br' }, garbage, 400),
        edge('truncated gzip', { ...json, 'content-encoding': 'gzip' }, gzipSync('{"a":"b"}').subarray(0, 12), 400),
        edge('unknown encoding', { ...form, 'content-encoding': 'zstd' }, 'a=b', 415),
        edge('stacked encodings', { ...form, 'content-encoding': 'gzip, br' }, gzipSync(brotliCompressSync('a=b')), 415),
        edge('a gzip bomb', { ...json, 'content-encoding': 'gzip' }, bomb, 413),
        // Just over the largest limit of each kind (forms 64 KiB, JSON 256 KiB; the OAuth endpoints take 56 KiB of either).
        edge('an oversized form', form, `a=${'x'.repeat(65 * 1024)}`, 413),
        edge('an oversized chunked form', form, `a=${'x'.repeat(65 * 1024)}`, 413, true),
        edge('oversized JSON', json, JSON.stringify({ a: 'x'.repeat(257 * 1024) }), 413),
        edge('oversized chunked JSON', json, JSON.stringify({ a: 'x'.repeat(257 * 1024) }), 413, true),
        { name: 'valid gzip', method, path, headers: { ...json, 'content-encoding': 'gzip' }, body: gzipSync('{"displayName":"zipped"}') },
        { name: 'valid deflate form', method, path, headers: { ...form, 'content-encoding': 'deflate' }, body: deflateSync('a=b') },
        { name: 'a deep form', method, path, headers: form, body: `${'a'}${'[b]'.repeat(200)}=1` },
      ];
    });
    await run(probes);
  }, 180_000);

  it('well-framed bodies with hostile content, signed in and not', async () => {
    const variants: [string, Record<string, string>, (csrf: string) => string][] = [
      ['duplicated parameters', { 'content-type': 'application/x-www-form-urlencoded' }, (csrf) => `_csrf=${csrf}&_csrf=x&name=a&name=b&displayName=a&displayName=b&email=a&email=b`],
      ['array parameters', { 'content-type': 'application/x-www-form-urlencoded' }, (csrf) => `_csrf=${csrf}&name[]=a&redirectUris[x]=y&permissions[0][1]=z&app[]=q&decision[]=allow`],
      ['NUL in a form', { 'content-type': 'application/x-www-form-urlencoded' }, (csrf) => `_csrf=${csrf}&name=a%00b&displayName=%00`],
      ['bad percent-encoding', { 'content-type': 'application/x-www-form-urlencoded' }, (csrf) => `_csrf=${csrf}&name=%ZZ%&displayName=%E0%A4%A`],
      ['bad UTF-8 in a form', { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' }, (csrf) => `_csrf=${csrf}&name=%FF%FE%C0%AF`],
      ['an unknown charset', { 'content-type': 'application/x-www-form-urlencoded; charset=klingon' }, (csrf) => `_csrf=${csrf}&name=a`],
      ['an empty JSON object', { 'content-type': 'application/json' }, () => '{}'],
      ['JSON null', { 'content-type': 'application/json' }, () => 'null'],
      ['a JSON array', { 'content-type': 'application/json' }, () => '[1,2,3]'],
      ['malformed JSON', { 'content-type': 'application/json' }, () => '{"displayName":'],
      ['JSON of the wrong types', { 'content-type': 'application/json' }, (csrf) => JSON.stringify({ _csrf: csrf, displayName: ['a'], metadata: 'x', settings: [1], permissions: { a: 1 }, expiresAt: {} })],
      ['JSON with NUL', { 'content-type': 'application/json' }, (csrf) => JSON.stringify({ _csrf: csrf, displayName: 'a\u0000b', name: '\u0000' })],
      ['JSON with a __proto__ key', { 'content-type': 'application/json' }, (csrf) => `{"_csrf":"${csrf}","__proto__":{"admin":true},"constructor":{"prototype":{"x":1}}}`],
      ['JSON with lone surrogates', { 'content-type': 'application/json' }, (csrf) => `{"_csrf":"${csrf}","displayName":"\\ud800\\udfff\\udc00"}`],
      ['bad UTF-8 in JSON', { 'content-type': 'application/json' }, () => '{"displayName":"\u00ff"}'],
      ['JSON of huge numbers', { 'content-type': 'application/json' }, () => '{"displayName":"n","settings":{"conversationRetentionSeconds":1e400},"metadata":{"n":-1e309}}'],
      ['text/plain', { 'content-type': 'text/plain' }, () => 'displayName=x'],
      ['multipart', { 'content-type': 'multipart/form-data; boundary=x' }, () => '--x\r\nContent-Disposition: form-data; name="a"\r\n\r\nb\r\n--x--\r\n'],
      ['a garbage content type', { 'content-type': ';;;/\u00ff' }, () => 'a=b'],
      ['no content type', {}, () => 'a=b'],
    ];
    const probes = bodyRoutes().flatMap((route) => {
      const method = methodOf(route);
      return variants.flatMap(([name, headers, body]): Probe[] => {
        const raw = body(owner.csrf);
        const anonymous: Probe = { name, method, path: fill(route), headers, body: name === 'bad UTF-8 in JSON' ? Buffer.from(raw, 'latin1') : raw };
        if (destructive(route, method)) return [anonymous];
        return [anonymous, { ...anonymous, name: `${name}, signed in`, headers: { ...headers, ...signedIn(route) } }];
      });
    });
    await run(probes);
  }, 180_000);

  it('paths and queries: hostile parameters, duplicates, arrays, NUL, bad UTF-8 and percent-encoding', async () => {
    const pathValues = ['%00', '%ZZ', '%FF%FE', '\u00ff\u00fe', '..%2F..%2Fetc%2Fpasswd', "x'%20or%201=1--", 'x'.repeat(5000), '%E2%80%AE', '-1', 'null'];
    const queries = [
      'a=1&a=2&appId=x&appId=y&client_id=a&client_id=b',
      'a[]=1&a[b][c][d][e][f]=2&page[size]=999999999999&page[after]=%00&filter[type][]=x',
      'x=%00&state=a%00b',
      'x=%ZZ&y=%',
      'x=%FF%FE%C0%AF&\u00ff=\u00fe',
      Array.from({ length: 1000 }, (_, index) => `p${index}=v`).join('&'),
      `big=${'q'.repeat(12_000)}`,
      'page[size]=-1&page[before]=zzz&page[after]=zzz&since=not-a-date&after=-5&limit=NaN&type=%00',
    ];
    const probes = routes.flatMap((route) => {
      const method = route.methods[0]!;
      const withParams = route.path.includes(':') ? pathValues.map((value) => ({ name: `path parameter ${value.slice(0, 20)}`, method, path: fill(route, value) })) : [];
      const query = queries.map((search) => ({ name: `query ${search.slice(0, 30)}`, method, path: `${fill(route)}?${search}` }));
      const signed = destructive(route, method) ? [] : query.map((probe) => ({ ...probe, name: `${probe.name}, signed in`, headers: signedIn(route) }));
      return [...withParams, ...query, ...signed];
    });
    await run(probes);
  }, 180_000);

  it('request targets of every form: absolute with a malformed authority, asterisk, scheme-relative, dot segments', async () => {
    const targets = (path: string) => [
      `http://[::1${path}`,
      `http://evil.example${path}`,
      `https://user@evil.example:99999${path}`,
      `//evil.example${path}`,
      `${path}/..%2F..%2F`,
      `${path}/../../oauth/token`,
      `${path}%`,
    ];
    const probes = routes.flatMap((route) => targets(fill(route)).map((path): Probe => ({ name: 'odd target', method: route.methods[0]!, path })));
    probes.push({ name: 'asterisk', method: 'OPTIONS', path: '*' }, { name: 'asterisk', method: 'GET', path: '*' });
    await run(probes);
    const unreadable = await send(server.url, { name: 'no URL at all', method: 'GET', path: 'http://[::1/oauth/token' });
    expect(unreadable.status).toBe(400);
    expect(JSON.parse(unreadable.body)).toEqual({ errors: [{ code: 'bad_request', title: 'Bad Request' }] });
  }, 120_000);

  it('headers: long ones, long and forged cookies, malformed Host and forwarded headers, odd credentials', async () => {
    await run(routes.flatMap(headerProbes));
  }, 180_000);

  it('a request Node cannot parse, and CONNECT, are answered with a JSON body, not a bare status line', async () => {
    const unparsable = await send(server.url, { name: 'a method Node does not know', method: 'BREW', path: '/oauth/token' });
    expect(unparsable.status).toBe(400);
    expect(JSON.parse(unparsable.body)).toEqual({ error: 'invalid_request', error_description: 'Bad Request' });
    const tooLong = await send(server.url, { name: 'long header', method: 'GET', path: '/v2/apps', headers: { 'x-filler': 'h'.repeat(20_000) } });
    expect(tooLong.status).toBe(431);
    expect(JSON.parse(tooLong.body)).toEqual({ errors: [{ code: 'request_header_fields_too_large', title: 'Request Header Fields Too Large' }] });
    const tunnel = await send(server.url, { name: 'CONNECT', method: 'CONNECT', path: '127.0.0.1:6379' });
    expect(tunnel.status).toBe(405);
    expect(tunnel.headers.allow).toBe('');
  });

  it('an empty update of an app is a no-op: 200, the app unchanged', async () => {
    const before = await server.db('apps').where({ id: app.id }).first();
    const answer = await send(server.url, { name: 'empty update', method: 'PATCH', path: `/v2/apps/${app.id}`, headers: { 'content-type': 'application/json', authorization: basic(key) }, body: '{}' });
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toMatchObject({ app: { id: app.id, displayName: before.display_name } });
    expect(await server.db('apps').where({ id: app.id }).first()).toEqual(before);
  });

  it('the server still answers normally after the round', async () => {
    const answer = await send(server.url, { name: 'list apps', method: 'GET', path: '/v2/apps', headers: { authorization: basic(key) } });
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toMatchObject({ apps: expect.any(Array) });
  });
});

describe('behind a trusted proxy, where forwarded headers are believed, with /metrics on a listener of its own', () => {
  let proxied: TestServer;

  beforeAll(async () => {
    proxied = await startTestServer({ TRUST_PROXY: '1', METRICS_PORT: '0', METRICS_HOST: '127.0.0.1' });
  }, 60_000);

  afterAll(async () => {
    await proxied?.close();
  });

  it('the header round over every route: never a 5xx, never an internal detail', async () => {
    await run(routes.flatMap(headerProbes), proxied.url);
  }, 120_000);

  it('the metrics listener: methods, targets and headers get the same answers', async () => {
    const metrics: Route = { path: '/metrics', methods: ['GET'] };
    const probes: Probe[] = [
      ...['TRACE', 'PROPFIND', 'POST', 'DELETE'].map((method) => ({ name: 'a method it does not take', method, path: '/metrics', refusal: 405 })),
      { name: 'a target that is no URL', method: 'GET', path: 'http://[::1/metrics', refusal: 400, headers: { accept: 'application/json' } },
      { name: 'a method Node does not know', method: 'BREW', path: '/metrics', refusal: 400, headers: { accept: 'application/json' } },
      { name: 'CONNECT', method: 'CONNECT', path: '127.0.0.1:6379', refusal: 405, headers: { accept: 'application/json' } },
      ...headerProbes(metrics).filter((probe) => probe.refusal === undefined),
    ];
    await run(probes, proxied.metricsUrl);
  }, 60_000);
});

describe('what the edge refuses is logged', () => {
  let logged: RunningServer;
  const lines: Record<string, unknown>[] = [];

  beforeAll(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(...chunk.toString('utf8').trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>));
        done();
      },
    });
    // The server closes the database it is given when it stops.
    logged = await startServer({ settings: testSettings({ LOG_LEVEL: 'info' }), logger: pino({ level: 'info' }, sink), database: await createTestDatabase() });
  }, 60_000);

  afterAll(async () => {
    await logged?.close();
  });

  it.each(['/oauth/token', '/oauth/revoke', '/oauth/introspect'])('a chunked body over the limit at %s: 413 in the OAuth shape, one request line with its id', async (path) => {
    const answer = await send(logged.url, { name: 'oversized chunked', method: 'POST', path, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${'t'.repeat(200_000)}`, chunked: true });
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.body)).toEqual({ error: 'invalid_request', error_description: 'The request body is too large' });
    const requestId = answer.headers['x-request-id'];
    await expect.poll(() => lines.filter((line) => line.requestId === requestId)).toEqual([expect.objectContaining({ msg: 'request', path, status: 413 })]);
  });

  it('a 5xx that remains is logged once with its request id, beside its request line, and shows nothing inside', async () => {
    // The last test of the file: the server's database goes away under it.
    await logged.database.knex.destroy();
    // A well-formed secret, so the key is looked up in the database rather than refused on its shape.
    const authorization = basicAuth('key_probe', newCredential('apiKeySecret'));
    const answer = await send(logged.url, { name: 'a database gone', method: 'GET', path: '/v2/apps', headers: { authorization } });
    expect(answer.status).toBeGreaterThanOrEqual(500);
    expect(internalDetail.filter((pattern) => pattern.test(answer.body))).toEqual([]);
    const requestId = answer.headers['x-request-id'];
    await expect.poll(() => lines.filter((line) => line.requestId === requestId).map((line) => [line.msg, line.status])).toEqual([
      ['request failed', undefined],
      ['request', answer.status],
    ]);
  });
});
