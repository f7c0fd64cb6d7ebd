/**
 * The oidc-provider set-up both engine baselines share (bare-oidc.ts with the
 * engine's in-memory adapter, peer-oidc.ts with a conventional PostgreSQL
 * adapter): configured like appgrant's engine (same routes, client auth
 * methods, DPoP, resource indicator with opaque tokens, refresh tokens with
 * rotation, introspection policy, TTLs, tokens not bound to the browser
 * session), two static clients whose client_secret is compared in plain text,
 * no interaction pages. Only the adapter differs between the two.
 *
 * Environment: PORT, ISSUER, PARTNER_ID, PARTNER_SECRET, RS_ID, RS_SECRET,
 * REDIRECT_URI, SCOPE (space-separated), ACCOUNT_ID.
 *
 *   POST /__mint?n=5000[&kind=refresh_token]  → { tokens: [...] } (codes by default)
 *   GET  /__health                             → 200
 *   everything else                            → provider.callback()
 */
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import Koa from 'koa';
import Provider, { errors, type Adapter, type Configuration, type JWK } from 'oidc-provider';

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
}

const routes = {
  authorization: '/oauth/authorize',
  token: '/oauth/token',
  revocation: '/oauth/revoke',
  introspection: '/oauth/introspect',
  jwks: '/oauth/jwks',
};

function signingKey(): JWK {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { ...(privateKey.export({ format: 'jwk' }) as JWK), kid: randomUUID(), alg: 'ES256', use: 'sig' };
}

interface Environment {
  issuer: string;
  partnerId: string;
  redirectUri: string;
  scope: string;
  accountId: string;
  resource: string;
}

function configuration(env: Environment, adapter: (model: string) => Adapter): Configuration {
  return {
    adapter,
    clients: [
      {
        client_id: env.partnerId,
        client_secret: required('PARTNER_SECRET'),
        redirect_uris: [env.redirectUri],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
        role: 'partner',
      },
      {
        client_id: required('RS_ID'),
        client_secret: required('RS_SECRET'),
        redirect_uris: [],
        grant_types: [],
        response_types: [],
        token_endpoint_auth_method: 'client_secret_basic',
        role: 'resource_server',
      },
    ],
    clientAuthMethods: ['client_secret_basic', 'client_secret_post'],
    responseTypes: ['code'],
    clientDefaults: { id_token_signed_response_alg: 'ES256', grant_types: ['authorization_code'], response_types: ['code'] },
    scopes: ['openid'],
    claims: { openid: ['sub'] },
    pkce: { required: () => false },
    routes,
    jwks: { keys: [signingKey()] },
    enabledJWA: { dPoPSigningAlgValues: ['ES256', 'Ed25519', 'EdDSA'] as never },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    extraClientMetadata: { properties: ['role'] },
    findAccount: async (_ctx, id) => ({ accountId: id, claims: () => ({ sub: id }) }),
    features: {
      devInteractions: { enabled: false },
      dPoP: { enabled: true },
      rpInitiatedLogout: { enabled: false },
      userinfo: { enabled: false },
      revocation: { enabled: true },
      introspection: {
        enabled: true,
        allowedPolicy: async (_ctx, client, token) => client.clientId === token.clientId || client.metadata().role === 'resource_server',
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => env.resource,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, indicator) => {
          if (indicator !== env.resource) throw new errors.InvalidTarget();
          return { scope: env.scope, audience: env.resource, accessTokenFormat: 'opaque', accessTokenTTL: 3600 };
        },
      },
    },
    expiresWithSession: () => false,
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    rotateRefreshToken: true,
    revokeGrantPolicy: () => true,
    ttl: {
      AuthorizationCode: 60,
      AccessToken: 3600,
      RefreshToken: 30 * 24 * 3600,
      Interaction: 15 * 60,
      Session: 8 * 3600,
      Grant: 10 * 365 * 24 * 3600,
    },
  };
}

/** Tokens per grant: each exchange adds its tokens to the grant, which the memory adapter rescans on every save. */
const tokensPerGrant = 50;

/** Seconds a minted code or refresh token stays valid: long enough to mint ahead and run the scenario. */
const mintedTtl = 600;

type MintKind = 'code' | 'refresh_token';

/** Grants minted at once: the PostgreSQL peer saves one row per statement, so minting one by one would take minutes. */
const grantsInParallel = 8;

/**
 * Grants are created here, then codes with the fields the code response type
 * sets, or refresh tokens with the fields the code exchange sets on the one
 * it issues (lib/helpers/grant_common.js).
 */
async function mint(provider: Provider, env: Environment, kind: MintKind, count: number): Promise<string[]> {
  const client = await provider.Client.find(env.partnerId);
  if (!client) throw new Error('partner client missing');
  const batch = async (size: number): Promise<string[]> => {
    const grant = new provider.Grant({ accountId: env.accountId, clientId: env.partnerId });
    grant.addResourceScope(env.resource, env.scope);
    const grantId = await grant.save();
    const common = { client, accountId: env.accountId, grantId, resource: env.resource, scope: env.scope, authTime: Math.floor(Date.now() / 1000), gty: 'authorization_code', expiresIn: mintedTtl };
    const tokens: Promise<string>[] = [];
    for (let index = 0; index < size; index += 1) {
      const token = kind === 'code' ? new provider.AuthorizationCode({ ...common, redirectUri: env.redirectUri }) : new provider.RefreshToken({ ...common, rotations: 0 });
      tokens.push(token.save());
    }
    return Promise.all(tokens);
  };
  const sizes: number[] = [];
  for (let left = count; left > 0; left -= tokensPerGrant) sizes.push(Math.min(left, tokensPerGrant));
  const minted: string[] = [];
  for (let first = 0; first < sizes.length; first += grantsInParallel) {
    for (const tokens of await Promise.all(sizes.slice(first, first + grantsInParallel).map(batch))) minted.push(...tokens);
  }
  return minted;
}

export interface EngineHooks {
  /** After each /__mint: the peer analyses its table, as the bench does appgrant's (bench/codes.ts, analyzingAfter). */
  afterMint?: () => Promise<unknown>;
  onClose?: () => Promise<unknown>;
}

/** Builds the engine on the given adapter and serves it, with the bench-only routes, on PORT. */
export function serveEngine(adapter: (model: string) => Adapter, hooks: EngineHooks = {}): void {
  const issuer = required('ISSUER');
  const env: Environment = {
    issuer,
    partnerId: required('PARTNER_ID'),
    redirectUri: required('REDIRECT_URI'),
    scope: required('SCOPE'),
    accountId: required('ACCOUNT_ID'),
    resource: `${issuer}/v2`,
  };
  const provider = new Provider(issuer, configuration(env, adapter));
  const handle = provider.callback();
  const app = new Koa();
  app.use(async (ctx) => {
    if (ctx.path === '/__health') {
      ctx.body = { status: 'ok' };
      return;
    }
    if (ctx.method === 'POST' && ctx.path === '/__mint') {
      const count = Math.min(Math.max(Number(ctx.query.n) || 1, 1), 100_000);
      ctx.body = { tokens: await mint(provider, env, ctx.query.kind === 'refresh_token' ? 'refresh_token' : 'code', count) };
      await hooks.afterMint?.();
      return;
    }
    ctx.respond = false;
    await handle(ctx.req, ctx.res);
  });
  const server = createServer(app.callback());
  server.listen(Number(required('PORT')), '127.0.0.1');
  process.on('SIGTERM', () => server.close(() => void Promise.resolve(hooks.onClose?.()).finally(() => process.exit(0))));
}
