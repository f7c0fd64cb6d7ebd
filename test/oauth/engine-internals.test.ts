import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa, { type Context, type Next } from 'koa';
import Provider, { type KoaContextWithOIDC } from 'oidc-provider';
import { exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engineMiddleware, extraClientProperties, replaceClientSecretComparison, replaceTokenValues, replayRequestBody } from '../../src/oauth/engine-internals.ts';
import { basicAuth } from '../support/basic.ts';

/**
 * Each seam of engine-internals.ts against a real oidc-provider, served by a
 * Koa application of our own on loopback, as the server serves it. When an
 * engine release changes what a seam relies on, its test here fails.
 */
const issuer = 'http://127.0.0.1';
let provider: Provider;
let server: Server;
let base: string;
/** Whether the engine ran on the outer application's own context. */
let sawOidcOnOwnContext = false;

/** Stands in for the engine-request step: the body the client sent is replaced before the engine reads it. */
async function replayIntrospectionBody(ctx: Context, next: Next): Promise<void> {
  if (ctx.method === 'POST' && ctx.get('x-replay-token')) {
    for await (const _chunk of ctx.req) void _chunk;
    replayRequestBody(ctx, Buffer.from(new URLSearchParams({ token: ctx.get('x-replay-token') }).toString()), 'application/x-www-form-urlencoded');
  }
  return next();
}


function introspect(secret: string, body: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${base}/token/introspection`, {
    method: 'POST',
    headers: { authorization: basicAuth('partner-1', secret), 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body,
  });
}

beforeAll(async () => {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  provider = new Provider(issuer, {
    clients: [
      {
        client_id: 'partner-1',
        client_secret: 'stored-value',
        grant_types: [],
        response_types: [],
        redirect_uris: [],
        role: 'partner',
        permissions: ['app:read', 'message:send'],
      },
    ],
    extraClientMetadata: { properties: ['role', 'permissions'] },
    clientDefaults: { id_token_signed_response_alg: 'ES256', grant_types: [], response_types: [] },
    features: { introspection: { enabled: true }, devInteractions: { enabled: false } },
    jwks: { keys: [{ ...(await exportJWK(privateKey)), alg: 'ES256', kid: 'test' }] },
    cookies: { keys: ['a test cookie key that is long enough'] },
  });
  replaceClientSecretComparison(provider, async (client, presented) => client.clientSecret === 'stored-value' && presented === 'accepted-secret');
  const handle = engineMiddleware(provider, [replayIntrospectionBody]);
  const application = new Koa();
  application.use(async (ctx) => {
    await handle(ctx);
    sawOidcOnOwnContext ||= Boolean((ctx as unknown as KoaContextWithOIDC).oidc);
  });
  server = createServer(application.callback()).listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => {
  server?.close();
});

describe('oidc-provider internals appgrant relies on', () => {
  it('the engine is a Koa application whose middleware runs on our own request context', async () => {
    const response = await fetch(`${base}/.well-known/openid-configuration`);
    expect(response.status).toBe(200);
    expect(((await response.json()) as { issuer: string }).issuer).toBe(issuer);
    expect(sawOidcOnOwnContext).toBe(true);
  });

  it('extra client metadata is on the client instance under its own name', async () => {
    const client = await provider.Client.find('partner-1');
    expect(client).toBeDefined();
    const properties = extraClientProperties<{ role: string; permissions: string[] }>(client!);
    expect(properties.role).toBe('partner');
    expect(properties.permissions).toEqual(['app:read', 'message:send']);
  });

  it('the client secret comparison is one replaceable method: the replacement decides, the plain comparison is gone', async () => {
    const accepted = await introspect('accepted-secret', 'token=unknown');
    expect(accepted.status).toBe(200);
    expect(await accepted.json()).toEqual({ active: false });
    const plain = await introspect('stored-value', 'token=unknown');
    expect(plain.status).toBe(401);
    expect(((await plain.json()) as { error: string }).error).toBe('invalid_client');
  });

  it('token values come from each model’s generateTokenId, which a replacement takes over; the engine finds them by that value', async () => {
    let made = 0;
    replaceTokenValues(provider, {
      AccessToken: () => `made-access-${(made += 1)}`,
      RefreshToken: () => `made-refresh-${(made += 1)}`,
      AuthorizationCode: () => `made-code-${(made += 1)}`,
    });
    const client = (await provider.Client.find('partner-1'))!;
    const access = await new provider.AccessToken({ client, accountId: 'account-1', grantId: 'grant-1', scope: 'openid', gty: 'authorization_code' }).save();
    const refresh = await new provider.RefreshToken({ client, accountId: 'account-1', grantId: 'grant-1', scope: 'openid', gty: 'authorization_code' }).save();
    const code = await new provider.AuthorizationCode({ client, accountId: 'account-1', grantId: 'grant-1', scope: 'openid', redirectUri: 'https://partner.example/cb', gty: 'authorization_code' }).save();
    expect([access, refresh, code]).toEqual(['made-access-1', 'made-refresh-2', 'made-code-3']);
    expect((await provider.AccessToken.find(access))?.accountId).toBe('account-1');
    expect((await provider.RefreshToken.find(refresh))?.grantId).toBe('grant-1');
    expect((await provider.AuthorizationCode.find(code))?.redirectUri).toBe('https://partner.example/cb');
  });

  it('the engine reads the body from the stand-in request a step put in place', async () => {
    const withoutToken = await introspect('accepted-secret', 'token=');
    expect(withoutToken.status).toBe(400);
    const replayed = await introspect('accepted-secret', 'token=', { 'x-replay-token': 'unknown' });
    expect(replayed.status).toBe(200);
    expect(await replayed.json()).toEqual({ active: false });
  });
});
