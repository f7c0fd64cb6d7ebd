import { createHash, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as oauth from 'oauth4webapi';
import { calculateJwkThumbprint, CompactSign, exportJWK, SignJWT } from 'jose';
import { introspect } from '../support/flow.ts';
import { authorizedWithPkce, discover, insecure } from '../support/oauth-client.ts';
import { checkedFetch } from '../support/contract.ts';
import { startTestServer, testSettings, type TestServer } from '../support/server.ts';
import { createLogger } from '../../src/log/logger.ts';
import { startServer, type RunningServer } from '../../src/server/server.ts';
import { sweepOptionsFrom, sweepRetention } from '../../src/retention/sweep.ts';
import { basicAuth } from '../support/basic.ts';

/**
 * RFC 9449 sender-constrained tokens, driven by an independent DPoP client
 * (oauth4webapi): a token asked for with a proof is bound to its key, and
 * the API accepts it only with a fresh proof of that key for that request.
 */

let server: TestServer;
/** A second instance on the same database, behind the same public URL. */
let other: RunningServer;
let owner: Awaited<ReturnType<TestServer['createOwner']>>;
let partner: { id: string; secret: string };
let resourceServer: { id: string; secret: string };
let as: oauth.AuthorizationServer;
const redirectUri = 'https://partner.example/callback';

beforeAll(async () => {
  server = await startTestServer();
  const settings = testSettings({ ISSUER: server.issuer });
  // Same database, its own engine, resolver and memory: what a second process would have.
  other = await startServer({ settings, logger: createLogger(settings.LOG_LEVEL), database: { ...server.database, close: async () => {} } });
  owner = await server.createOwner();
  const created = await server.createPartner({ redirectUris: [redirectUri], permissions: ['app:read'] });
  partner = { id: created.partner.id, secret: created.clientSecret };
  const platform = await server.createResourceServer();
  resourceServer = { id: platform.partner.id, secret: platform.clientSecret };
  as = await discover(server.issuer);
});

afterAll(async () => {
  await other?.close();
  await server?.close();
});

const client = (): oauth.Client => ({ client_id: partner.id });
/** The client library's requests, with each answer checked against the OpenAPI document. */
const described = { ...insecure, [oauth.customFetch]: checkedFetch };
const appUrl = () => new URL(`${server.issuer}/v2/apps/${owner.apps[0]!.id}`);

const authorizationResponse = () =>
  authorizedWithPkce({ base: server.url, as, clientId: partner.id, redirectUri, owner: { email: owner.account.email, password: owner.password } });

/** A code exchanged with a DPoP proof of `keys`: a token bound to them. */
async function boundTokens(keys: oauth.CryptoKeyPair): Promise<oauth.TokenEndpointResponse> {
  const { params, verifier } = await authorizationResponse();
  const response = await oauth.authorizationCodeGrantRequest(as, client(), oauth.ClientSecretBasic(partner.secret), params, redirectUri, verifier, {
    DPoP: oauth.DPoP(client(), keys),
    ...described,
  });
  return oauth.processAuthorizationCodeResponse(as, client(), response);
}

/** A request as the client library makes it (with a fresh proof when given keys); a refusal is returned, not thrown. */
async function resourceRequest(token: string, method: string, url: URL, keys?: oauth.CryptoKeyPair): Promise<Response> {
  try {
    return await oauth.protectedResourceRequest(token, method, url, undefined, undefined, { ...(keys ? { DPoP: oauth.DPoP(client(), keys) } : {}), ...described });
  } catch (error) {
    if (error instanceof oauth.WWWAuthenticateChallengeError) return error.response;
    throw error;
  }
}

const getApp = (token: string, keys: oauth.CryptoKeyPair) => resourceRequest(token, 'GET', appUrl(), keys);

interface ProofClaims {
  htm?: string;
  htu?: string;
  ath?: string;
  iat?: number;
  jti?: string;
  exp?: number;
}

/** A proof made by hand, for the shapes a well-behaved client never sends. */
async function handmadeProof(keys: oauth.CryptoKeyPair, token: string, claims: ProofClaims = {}): Promise<string> {
  return new SignJWT({
    htm: 'GET',
    htu: appUrl().href,
    ath: createHash('sha256').update(token).digest('base64url'),
    iat: Math.floor(Date.now() / 1000),
    jti: randomUUID(),
    ...claims,
  })
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: await exportJWK(keys.publicKey) })
    .sign(keys.privateKey);
}

function callWithProof(base: string, token: string, proof: string | undefined, scheme = 'DPoP'): Promise<Response> {
  return checkedFetch(`${base}${appUrl().pathname}`, {
    headers: { accept: 'application/json', authorization: `${scheme} ${token}`, ...(proof ? { dpop: proof } : {}) },
  });
}

async function expectDpopRefusal(response: Response, error: 'invalid_token' | 'invalid_dpop_proof'): Promise<void> {
  const body = await response.text();
  expect(response.status, body).toBe(401);
  const challenge = response.headers.get('www-authenticate') ?? '';
  expect(challenge).toMatch(/^DPoP /);
  expect(challenge).toContain(`error="${error}"`);
  expect(challenge).toContain('algs="ES256 Ed25519 EdDSA"');
  expect(JSON.parse(body)).toEqual({ errors: [{ code: 'unauthorized', title: expect.any(String) }] });
}

describe('a DPoP-bound token', () => {
  it('is issued as token_type DPoP, works on /v2 with proofs, and introspection shows its cnf.jkt', async () => {
    const keys = await oauth.generateKeyPair('ES256');
    const tokens = await boundTokens(keys);
    expect(tokens.token_type).toBe('dpop');
    const response = await getApp(tokens.access_token, keys);
    expect(response.status, await response.clone().text()).toBe(200);
    expect(((await response.json()) as { app: { id: string } }).app.id).toBe(owner.apps[0]!.id);
    // Every request needs a proof of its own: the client library makes a fresh one each time.
    expect((await getApp(tokens.access_token, keys)).status).toBe(200);

    const introspection = await introspect(server.url, resourceServer, tokens.access_token, checkedFetch);
    const thumbprint = await calculateJwkThumbprint(await exportJWK(keys.publicKey));
    expect(introspection).toMatchObject({ active: true, token_type: 'DPoP', cnf: { jkt: thumbprint } });
  });

  it.each(['ES256', 'Ed25519', 'EdDSA'])('is bound to and used with a %s key (dpop_signing_alg_values_supported)', async (alg) => {
    const keys = await oauth.generateKeyPair(alg);
    const tokens = await boundTokens(keys);
    expect(tokens.token_type).toBe('dpop');
    expect((await getApp(tokens.access_token, keys)).status).toBe(200);
  });

  it('is refreshed with a proof of the same key, and the new token is bound to it too', async () => {
    const keys = await oauth.generateKeyPair('ES256');
    const tokens = await boundTokens(keys);
    const refreshed = await oauth.processRefreshTokenResponse(
      as,
      client(),
      await oauth.refreshTokenGrantRequest(as, client(), oauth.ClientSecretBasic(partner.secret), tokens.refresh_token!, {
        DPoP: oauth.DPoP(client(), keys),
        ...insecure,
      }),
    );
    expect(refreshed.token_type).toBe('dpop');
    expect((await getApp(refreshed.access_token, keys)).status).toBe(200);
    await expectDpopRefusal(await callWithProof(server.url, refreshed.access_token, undefined, 'Bearer'), 'invalid_token');
  });

  it('is refused as a Bearer token, with or without a proof', async () => {
    const keys = await oauth.generateKeyPair('ES256');
    const { access_token: token } = await boundTokens(keys);
    await expectDpopRefusal(await callWithProof(server.url, token, undefined, 'Bearer'), 'invalid_token');
    await expectDpopRefusal(await callWithProof(server.url, token, await handmadeProof(keys, token), 'Bearer'), 'invalid_token');
    const revoke = await fetch(`${server.url}/oauth/authorization`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
    await expectDpopRefusal(revoke, 'invalid_token');
  });

  it.each([
    ['no proof', async () => undefined],
    ['another method', (keys: oauth.CryptoKeyPair, token: string) => handmadeProof(keys, token, { htm: 'POST' })],
    ['another URL', (keys: oauth.CryptoKeyPair, token: string) => handmadeProof(keys, token, { htu: `${server.issuer}/v2/apps` })],
    ['another host', (keys: oauth.CryptoKeyPair, token: string) => handmadeProof(keys, token, { htu: `http://evil.example${appUrl().pathname}` })],
    ['another token’s ath', (keys: oauth.CryptoKeyPair, token: string) => handmadeProof(keys, token, { ath: createHash('sha256').update(`${token}x`).digest('base64url') })],
    ['no ath', (keys: oauth.CryptoKeyPair, token: string) => handmadeProof(keys, token, { ath: undefined as never })],
    ['an iat ten minutes old', (keys: oauth.CryptoKeyPair, token: string) => handmadeProof(keys, token, { iat: Math.floor(Date.now() / 1000) - 600 })],
    ['an iat ten minutes ahead', (keys: oauth.CryptoKeyPair, token: string) => handmadeProof(keys, token, { iat: Math.floor(Date.now() / 1000) + 600 })],
    ['an exp already past', (keys: oauth.CryptoKeyPair, token: string) => handmadeProof(keys, token, { exp: Math.floor(Date.now() / 1000) - 5 })],
    ['a key other than the token’s', async (_keys: oauth.CryptoKeyPair, token: string) => handmadeProof(await oauth.generateKeyPair('ES256'), token)],
    ['not a JWT', async () => 'not-a-proof'],
  ] as [string, (keys: oauth.CryptoKeyPair, token: string) => Promise<string | undefined>][])('is refused with %s', async (_name, makeProof) => {
    const keys = await oauth.generateKeyPair('ES256');
    const { access_token: token } = await boundTokens(keys);
    await expectDpopRefusal(await callWithProof(server.url, token, await makeProof(keys, token)), 'invalid_dpop_proof');
    // The same token still works with a good proof: a refusal does not burn it.
    expect((await getApp(token, keys)).status).toBe(200);
  });

  it('is refused with a proof whose header is not a DPoP proof’s', async () => {
    const keys = await oauth.generateKeyPair('ES256');
    const { access_token: token } = await boundTokens(keys);
    const claims = { htm: 'GET', htu: appUrl().href, ath: createHash('sha256').update(token).digest('base64url'), iat: Math.floor(Date.now() / 1000) };
    const jwk = await exportJWK(keys.publicKey);
    const privateJwk = await exportJWK((await oauth.generateKeyPair('ES256', { extractable: true })).privateKey);
    const proofs = [
      await new SignJWT({ ...claims, jti: randomUUID() }).setProtectedHeader({ alg: 'ES256', typ: 'JWT', jwk }).sign(keys.privateKey),
      await new SignJWT({ ...claims, jti: randomUUID() }).setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt' }).sign(keys.privateKey),
      await new SignJWT({ ...claims, jti: randomUUID() }).setProtectedHeader({ alg: 'HS256', typ: 'dpop+jwt', jwk }).sign(new Uint8Array(32)),
      await new SignJWT({ ...claims, jti: randomUUID() }).setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: privateJwk }).sign(keys.privateKey),
      `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'dpop+jwt', jwk })).toString('base64url')}.${Buffer.from(JSON.stringify({ ...claims, jti: randomUUID() })).toString('base64url')}.`,
      // The bound key named in the header, signed by another key under another algorithm.
      await new SignJWT({ ...claims, jti: randomUUID() }).setProtectedHeader({ alg: 'Ed25519', typ: 'dpop+jwt', jwk }).sign((await oauth.generateKeyPair('Ed25519')).privateKey),
      // An extension the verifier would have to understand.
      await new CompactSign(new TextEncoder().encode(JSON.stringify({ ...claims, jti: randomUUID() })))
        .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk, crit: ['urn:example:must-understand'], 'urn:example:must-understand': true })
        .sign(keys.privateKey, { crit: { 'urn:example:must-understand': true } }),
    ];
    for (const proof of proofs) await expectDpopRefusal(await callWithProof(server.url, token, proof), 'invalid_dpop_proof');
    // typ compares as a media type does: case-insensitive, application/ optional.
    const spelled = await new SignJWT({ ...claims, jti: randomUUID() }).setProtectedHeader({ alg: 'ES256', typ: 'application/DPoP+JWT', jwk }).sign(keys.privateKey);
    expect((await callWithProof(server.url, token, spelled)).status).toBe(200);
  });

  it('never accepts one proof twice, on the same instance or on another', async () => {
    const keys = await oauth.generateKeyPair('ES256');
    const { access_token: token } = await boundTokens(keys);
    const proof = await handmadeProof(keys, token);
    expect((await callWithProof(server.url, token, proof)).status).toBe(200);
    await expectDpopRefusal(await callWithProof(server.url, token, proof), 'invalid_dpop_proof');
    await expectDpopRefusal(await callWithProof(other.url, token, proof), 'invalid_dpop_proof');

    const second = await handmadeProof(keys, token);
    expect((await callWithProof(other.url, token, second)).status).toBe(200);
    await expectDpopRefusal(await callWithProof(server.url, token, second), 'invalid_dpop_proof');
  });

  it('is refused to concurrent uses of one proof on two instances but one', async () => {
    const keys = await oauth.generateKeyPair('ES256');
    const { access_token: token } = await boundTokens(keys);
    const proof = await handmadeProof(keys, token);
    const responses = await Promise.all([server.url, other.url, server.url, other.url].map((base) => callWithProof(base, token, proof)));
    expect(responses.map((response) => response.status).sort()).toEqual([200, 401, 401, 401]);
  });

  it('refuses a token-endpoint proof replayed on another instance', async () => {
    const keys = await oauth.generateKeyPair('ES256');
    const tokens = await boundTokens(keys);
    const tokenProof = async () =>
      new SignJWT({ htm: 'POST', htu: `${server.issuer}/oauth/token`, iat: Math.floor(Date.now() / 1000), jti: randomUUID() })
        .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: await exportJWK(keys.publicKey) })
        .sign(keys.privateKey);
    const refresh = (base: string, refreshToken: string, proof: string) =>
      fetch(`${base}/oauth/token`, {
        method: 'POST',
        headers: {
          authorization: basicAuth(partner.id, partner.secret),
          'content-type': 'application/x-www-form-urlencoded',
          dpop: proof,
        },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }),
      });
    const proof = await tokenProof();
    const first = await refresh(server.url, tokens.refresh_token!, proof);
    const body = (await first.json()) as { refresh_token: string };
    expect(first.status, JSON.stringify(body)).toBe(200);
    const replayed = await refresh(other.url, body.refresh_token, proof);
    expect(replayed.status).toBe(400);
    expect(await replayed.json()).toMatchObject({ error: 'invalid_grant' });
    // The refresh token itself was good: with a fresh proof it works.
    expect((await refresh(other.url, body.refresh_token, await tokenProof())).status).toBe(200);
  });

  it('removes its authorization with DELETE /oauth/authorization and a proof', async () => {
    const keys = await oauth.generateKeyPair('ES256');
    const { access_token: token } = await boundTokens(keys);
    const removed = await resourceRequest(token, 'DELETE', new URL(`${server.issuer}/oauth/authorization`), keys);
    expect(removed.status).toBe(204);
    await expectDpopRefusal(await getApp(token, keys), 'invalid_token');
  });
});

describe('a token issued without a proof', () => {
  it('keeps working as a Bearer token, and is refused under the DPoP scheme', async () => {
    const { params, verifier } = await authorizationResponse();
    const tokens = await oauth.processAuthorizationCodeResponse(
      as,
      client(),
      await oauth.authorizationCodeGrantRequest(as, client(), oauth.ClientSecretBasic(partner.secret), params, redirectUri, verifier, insecure),
    );
    expect(tokens.token_type).toBe('bearer');
    expect((await resourceRequest(tokens.access_token, 'GET', appUrl())).status).toBe(200);
    const keys = await oauth.generateKeyPair('ES256');
    await expectDpopRefusal(await getApp(tokens.access_token, keys), 'invalid_token');
    const introspection = await introspect(server.url, resourceServer, tokens.access_token);
    expect(introspection).toMatchObject({ active: true, token_type: 'Bearer' });
    expect(introspection.cnf).toBeUndefined();
  });
});

describe('the used-proof store', () => {
  it('forgets proofs once they would be refused as stale anyway', async () => {
    await server.db('used_proofs').insert({ id: 'stale', expires_at: new Date(Date.now() - 1000) });
    await server.db('used_proofs').insert({ id: 'fresh', expires_at: new Date(Date.now() + 60_000) });
    await sweepRetention(server.db, sweepOptionsFrom(server.settings));
    const left = (await server.db('used_proofs').select('id')).map((row: { id: string }) => row.id);
    expect(left).toContain('fresh');
    expect(left).not.toContain('stale');
  });
});
