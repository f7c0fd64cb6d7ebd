/**
 * Baseline: bare oidc-provider, configured like appgrant's engine (same
 * routes, client auth methods, resource indicator with opaque tokens,
 * refresh tokens, introspection policy, TTLs) but with no database: the
 * engine's own MemoryAdapter and two static clients whose client_secret is
 * compared in plain text. No interaction pages; codes come from a
 * bench-only route.
 *
 * Environment: PORT, ISSUER, PARTNER_ID, PARTNER_SECRET, RS_ID, RS_SECRET,
 * REDIRECT_URI, SCOPE (space-separated), ACCOUNT_ID.
 *
 *   POST /__mint?n=5000[&sessionBound=1]  → { codes: [...] }
 *   GET  /__health                         → 200
 *   everything else                        → provider.callback()
 */
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import Koa from 'koa';
import Provider, { errors, type Configuration, type JWK } from 'oidc-provider';
import MemoryAdapter from 'oidc-provider/lib/adapters/memory_adapter.js';
import LRU from 'oidc-provider/lib/helpers/lru.js';

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
}

const port = Number(required('PORT'));
const issuer = required('ISSUER');
const partnerId = required('PARTNER_ID');
const redirectUri = required('REDIRECT_URI');
const scope = required('SCOPE');
const accountId = required('ACCOUNT_ID');
const resource = `${issuer}/v2`;

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

/*
 * The default MemoryAdapter keeps at most ~2000 entries (an LRU of 1000 per
 * generation), so codes minted ahead of a run would be evicted before use.
 * Same adapter class, larger store.
 */
const store = new LRU({ maxSize: 2_000_000 });

const configuration: Configuration = {
  adapter: (model: string) => new MemoryAdapter(model, store),
  clients: [
    {
      client_id: partnerId,
      client_secret: required('PARTNER_SECRET'),
      redirect_uris: [redirectUri],
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
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  extraClientMetadata: { properties: ['role'] },
  findAccount: async (_ctx, id) => ({ accountId: id, claims: () => ({ sub: id }) }),
  features: {
    devInteractions: { enabled: false },
    rpInitiatedLogout: { enabled: false },
    userinfo: { enabled: false },
    revocation: { enabled: true },
    introspection: {
      enabled: true,
      allowedPolicy: async (_ctx, client, token) => client.clientId === token.clientId || client.metadata().role === 'resource_server',
    },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => resource,
      useGrantedResource: () => true,
      getResourceServerInfo: (_ctx, indicator) => {
        if (indicator !== resource) throw new errors.InvalidTarget();
        return { scope, audience: resource, accessTokenFormat: 'opaque', accessTokenTTL: 3600 };
      },
    },
  },
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

const provider = new Provider(issuer, configuration);

/** Codes per grant: each exchange adds its tokens to the grant's member list, which the adapter scans on every save. */
const codesPerGrant = 50;

/**
 * Grants (and, when asked, the login session the codes are bound to, as the
 * engine binds codes to the owner's session) are created here, then codes
 * with the fields the code response type sets.
 */
async function mint(count: number, sessionBound: boolean): Promise<string[]> {
  const client = await provider.Client.find(partnerId);
  if (!client) throw new Error('partner client missing');
  const codes: string[] = [];
  for (let first = 0; first < count; first += codesPerGrant) {
    const grant = new provider.Grant({ accountId, clientId: partnerId });
    grant.addResourceScope(resource, scope);
    const grantId = await grant.save();
    const authTime = Math.floor(Date.now() / 1000);
    let sessionFields = {};
    if (sessionBound) {
      const Session = provider.Session as unknown as new (payload: Record<string, unknown>) => InstanceType<typeof provider.Session>;
      const session = new Session({ accountId, loginTs: authTime, authorizations: { [partnerId]: { grantId, sid: randomUUID() } } });
      await session.save(8 * 3600);
      sessionFields = { sessionUid: session.uid, expiresWithSession: true };
    }
    for (let index = first; index < Math.min(count, first + codesPerGrant); index += 1) {
      const code = new provider.AuthorizationCode({
        client,
        accountId,
        grantId,
        redirectUri,
        resource,
        scope,
        authTime,
        gty: 'authorization_code',
        expiresIn: 600,
        ...sessionFields,
      });
      codes.push(await code.save());
    }
  }
  return codes;
}

const handle = provider.callback();
const app = new Koa();
app.use(async (ctx) => {
  if (ctx.path === '/__health') {
    ctx.body = { status: 'ok' };
    return;
  }
  if (ctx.method === 'POST' && ctx.path === '/__mint') {
    const count = Math.min(Math.max(Number(ctx.query.n) || 1, 1), 100_000);
    ctx.body = { codes: await mint(count, ctx.query.sessionBound === '1') };
    return;
  }
  ctx.respond = false;
  await handle(ctx.req, ctx.res);
});

const server = createServer(app.callback());
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
