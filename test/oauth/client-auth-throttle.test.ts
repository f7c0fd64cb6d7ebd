import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CookieBrowser, field } from '../support/browser.ts';
import { passwordVerifications } from '../support/metrics.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { passwordHasherFor } from '../../src/accounts/password-hasher.ts';
import { createPartner } from '../../src/partners/partners.ts';
import { newCredential } from '../../src/keys/credential-formats.ts';
import { basicAuth } from '../support/basic.ts';

/**
 * Failed client authentication at the token endpoint (README, security
 * notes): a secret not already known to match is a guess, reserved per
 * client and per address before any hashing; past the limit it is refused
 * with 429, Retry-After and an RFC 6749 error body, at no hashing cost. And
 * no unauthenticated caller can make the server verify more than
 * PASSWORD_VERIFICATIONS_PER_SECOND passwords or secrets a second.
 */

type Partner = Awaited<ReturnType<TestServer['createPartner']>>;

function wrongSecret(server: TestServer, partner: Partner, from?: string): Promise<Response> {
  return fetch(`${server.url}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(from ? { 'x-forwarded-for': from } : {}) },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: 'no-such-code',
      client_id: partner.partner.id,
      // Well-formed, so it is a guess to check: a malformed one is refused before anything is read.
      client_secret: newCredential('clientSecret'),
    }),
  });
}

function introspectWith(server: TestServer, partner: Partner, from?: string): Promise<Response> {
  return fetch(`${server.url}/oauth/introspect`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: basicAuth(partner.partner.id, partner.clientSecret),
      ...(from ? { 'x-forwarded-for': from } : {}),
    },
    body: new URLSearchParams({ token: 'not-a-token' }),
  });
}

/** Refused before any hashing: 429, Retry-After, the RFC 6749 §5.2 error shape. */
async function expectRefused(response: Response): Promise<void> {
  expect(response.status).toBe(429);
  expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
  expect(response.headers.get('content-type')).toMatch(/application\/json/);
  const body = (await response.json()) as { error: string; error_description: string };
  expect(body.error).toBe('temporarily_unavailable');
  expect(body.error_description).toMatch(/too many failed client authentications/);
}

async function logInToDashboard(server: TestServer, owner: { email: string; password: string }, from?: string): Promise<Response> {
  const browser = new CookieBrowser(server.url);
  const token = field(await (await browser.get('/login')).text(), '_csrf') ?? '';
  return browser.request('/login', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(from ? { 'x-forwarded-for': from } : {}) },
    body: new URLSearchParams({ _csrf: token, ...owner }),
  });
}

/** Distinct documentation addresses (RFC 5737), up to 508. */
function addresses(count: number): string[] {
  return Array.from({ length: count }, (_, index) => (index < 254 ? `198.51.100.${index + 1}` : `203.0.113.${index - 253}`));
}

describe('wrong client secrets from one address', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer();
  });

  afterAll(() => server?.close());

  it('150 at once: at most 10 are hashed, the rest refused with 429; an owner logging in meanwhile costs one hash', async () => {
    const partner = await server.createPartner();
    const owner = await server.createOwner();
    // The partner's own secret, verified once, is then known and needs no hashing.
    expect((await introspectWith(server, partner)).status).toBe(200);
    const before = await passwordVerifications(server.url);
    const [guesses, login] = await Promise.all([
      Promise.all(Array.from({ length: 150 }, () => wrongSecret(server, partner))),
      logInToDashboard(server, { email: owner.account.email, password: owner.password }),
    ]);
    const hashed = (await passwordVerifications(server.url)) - before;
    expect(login.status).toBe(303);
    const statuses = guesses.map((response) => response.status);
    expect(statuses.filter((status) => status === 401).length).toBeLessThanOrEqual(10);
    expect(statuses.filter((status) => status === 429).length).toBeGreaterThanOrEqual(140);
    expect(statuses.every((status) => status === 401 || status === 429)).toBe(true);
    for (const response of guesses.filter((candidate) => candidate.status === 429).slice(0, 3)) await expectRefused(response);
    const failed = guesses.find((response) => response.status === 401)!;
    expect(((await failed.json()) as { error: string }).error).toBe('invalid_client');
    // At most the 10 guesses the limit lets through, plus the owner's password.
    expect(hashed).toBeLessThanOrEqual(11);
    // The partner's known secret still works from the same address.
    expect((await introspectWith(server, partner)).status).toBe(200);
  });
});

describe('wrong client secrets from many addresses', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ TRUST_PROXY: 'true' });
  });

  afterAll(() => server?.close());

  it('150 at once at one client from 150 addresses: at most 10 are hashed', async () => {
    const partner = await server.createPartner();
    const before = await passwordVerifications(server.url);
    const from = addresses(150);
    const guesses = await Promise.all(from.map((address) => wrongSecret(server, partner, address)));
    const statuses = guesses.map((response) => response.status);
    expect(statuses.filter((status) => status === 401).length).toBeLessThanOrEqual(10);
    expect(statuses.filter((status) => status === 429).length).toBeGreaterThanOrEqual(140);
    expect((await passwordVerifications(server.url)) - before).toBeLessThanOrEqual(10);
  });
});

describe('the verification budget', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({
      TRUST_PROXY: 'true',
      PASSWORD_VERIFICATIONS_PER_SECOND: '4',
      LOGIN_MAX_FAILURES_PER_IP: '1000',
      CLIENT_AUTH_MAX_FAILURES_PER_IP: '1000',
      CLIENT_AUTH_MAX_FAILURES_PER_CLIENT: '1000',
    });
  });

  afterAll(() => server?.close());

  it('bounds the hashing that guesses spread over many accounts, clients and addresses can cause', async () => {
    // Secrets an earlier version stored as argon2id hashes: those are what a guess can make the server hash.
    const hasher = passwordHasherFor(server.settings);
    const partners = await Promise.all(
      Array.from({ length: 3 }, () => createPartner(server.db, hasher, server.settings, { name: 'Earlier', redirectUris: ['https://partner.example/callback'], permissions: ['app:read'] })),
    );
    const from = addresses(60);
    const before = await passwordVerifications(server.url);
    const started = performance.now();
    const [logins, tokens] = await Promise.all([
      Promise.all(from.slice(0, 30).map((address, index) => logInToDashboard(server, { email: `nobody${index}@example.com`, password: 'a wrong guess' }, address))),
      Promise.all(from.slice(30).map((address, index) => wrongSecret(server, partners[index % 3]!, address))),
    ]);
    const seconds = (performance.now() - started) / 1000;
    const hashed = (await passwordVerifications(server.url)) - before;
    // 4 a second while the burst lasted, and at most one second's worth waiting in line.
    expect(hashed).toBeGreaterThan(0);
    expect(hashed).toBeLessThanOrEqual(4 * (Math.ceil(seconds) + 1));
    const refusedLogins = logins.filter((response) => response.status === 429);
    const refusedTokens = tokens.filter((response) => response.status === 429);
    expect(refusedLogins.length + refusedTokens.length).toBeGreaterThanOrEqual(60 - hashed);
    expect(refusedLogins[0]?.headers.get('retry-after')).toBe('1');
    await expectRefused(refusedTokens[0]!);
  });
});
