import type { Knex } from 'knex';
import type { Context } from 'koa';
import Provider, { errors, interactionPolicy, type Configuration, type KoaContextWithOIDC, type JWK } from 'oidc-provider';
import type { Settings } from '../config/settings.ts';
import type { Logger } from '../log/logger.ts';
import { findAccount } from '../accounts/accounts.ts';
import { findLiveAuthorizationByGrant } from '../authorizations/authorizations.ts';
import { createAdapterFactory } from './storage/adapter.ts';
import { refreshTokenTtl } from './storage/refresh-reuse.ts';
import type { RecordIds } from './storage/record-ids.ts';
import { accountReads, liveAuthorizationReads } from './storage/read-ahead.ts';
import { partnerClientProperties, partnerGrantTypes, partnerPropertiesOf } from './client-metadata.ts';
import { useHashedClientSecrets, type ClientSecretVerifier } from './client-secrets.ts';
import type { GuessLimits } from '../limits/guess-limits.ts';
import { permissionsOfLevel } from '../permissions/catalog.ts';
import { renderProblem } from '../http/boundary.ts';
import { PageProblem, unavailable } from '../http/problems.ts';
import { databaseRetryAfterSeconds } from '../db/unavailable.ts';
import { addAppIdToTokenResponse, explainSuspension, normalizeEngineRequests } from './engine-requests.ts';
import { writeIssuedTokensTogether } from './storage/issued-tokens.ts';
import { advertiseWhatWorks } from './metadata.ts';
import { dpopSigningAlgorithms } from '../credentials/dpop.ts';
import { replaceTokenValues } from './engine-internals.ts';
import { newCredential } from '../keys/credential-formats.ts';

export const oauthRoutes = {
  authorization: '/oauth/authorize',
  token: '/oauth/token',
  revocation: '/oauth/revoke',
  introspection: '/oauth/introspect',
  jwks: '/oauth/jwks',
  pushed_authorization_request: '/oauth/par',
} as const;

export interface OAuthDependencies {
  db: Knex;
  settings: Settings;
  logger: Logger;
  cookieKeys: string[];
  /**
   * The key the engine would sign its own JWTs with. In this configuration
   * it signs none (no ID tokens: `openid` is not a permission a partner can
   * ask for; access tokens are opaque), and /oauth/jwks is served from the
   * shared, live key set (src/keys/signing-keys.ts) rather than from this.
   */
  signingKey: JWK;
  secretVerifier: ClientSecretVerifier;
  /** How record ids are stored: tokens, codes and sessions only as keyed digests. */
  recordIds: RecordIds;
  /** Limits on failed client authentication, per client and per address. */
  clientAuthGuesses: GuessLimits;
}

/** The audience of every access token: the platform API. */
export function platformApiResource(settings: Settings): string {
  return `${settings.ISSUER}/v2`;
}

function permissionsOf(client: object): string[] {
  return partnerPropertiesOf(client).permissions ?? [];
}

/**
 * A partner asks for permissions with `scope`. Omitted, it gets every
 * permission it registered; anything it did not register (including names
 * outside the catalog) is refused with invalid_scope, redirected back to it.
 */
async function checkRequestedPermissions(ctx: KoaContextWithOIDC, value: string | undefined, client: object): Promise<void> {
  const allowed = permissionsOf(client);
  if (value === undefined) {
    ctx.oidc.params!.scope = allowed.join(' ');
    return;
  }
  const refused = value.split(' ').filter((name) => !allowed.includes(name));
  if (refused.length) {
    throw new errors.InvalidScope('requested scope is not registered for this client', refused.join(' '));
  }
}

/**
 * Every authorization asks the owner to choose an app and consent, even when
 * the same partner was allowed before: the approval is per app, so an
 * earlier one never answers for a new request.
 */
function interactionPolicyForApps() {
  const { Prompt, Check, base } = interactionPolicy;
  const policy = base();
  policy.remove('consent');
  policy.add(
    new Prompt(
      { name: 'consent', requestable: true },
      new Check('app_consent_required', 'the app owner chooses an app and consents', 'consent_required', (ctx) =>
        ctx.oidc.result?.consent?.grantId ? Check.NO_NEED_TO_PROMPT : Check.REQUEST_PROMPT,
      ),
    ),
  );
  return policy;
}

const errorTitles: Record<string, string> = {
  invalid_client: 'Unknown integration',
  invalid_redirect_uri: 'This link is not valid',
  invalid_request: 'This link is not valid',
};

/** What an error the engine cannot send back to the partner means, for the person who followed the link. */
const errorExplanations: Record<string, string> = {
  invalid_client: 'The link you followed names an integration that does not exist here, so it cannot connect to your apps.',
  invalid_redirect_uri: 'The link you followed would send you back to an address the integration has not registered, so appgrant will not follow it.',
  invalid_request: 'The link you followed is missing something or has a mistake in it.',
};

/** The engine's terse description ("client is invalid") as a sentence: capital first, full stop last. */
function asSentence(text: string): string {
  const trimmed = text.trim();
  const capital = trimmed.charAt(0).toUpperCase() + trimmed.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}

/** The page's message for an engine error: what happened in plain words, the engine's detail, what to do. */
function engineErrorMessage(code: string, description: string | undefined): string {
  return [
    errorExplanations[code] ?? 'This request cannot be completed.',
    description ? `Details: ${asSentence(description)}` : '',
    'Go back to the site you came from and start again; if it happens again, tell its developer.',
  ].filter(Boolean).join(' ');
}

/** The engine's cookies: signed, HttpOnly, SameSite=Lax, under appgrant's names. */
function engineCookies(cookieKeys: string[]): Configuration['cookies'] {
  return {
    keys: cookieKeys,
    names: { session: 'appgrant.session', interaction: 'appgrant.interaction', resume: 'appgrant.resume' },
    long: { httpOnly: true, sameSite: 'lax', signed: true },
    short: { httpOnly: true, sameSite: 'lax', signed: true },
  };
}

/** What the engine offers beyond the code flow, each advertised only because it works. */
function engineFeatures(settings: Settings, apiResource: string): Configuration['features'] {
  return {
    devInteractions: { enabled: false },
    // RFC 9449: a token asked for with a DPoP proof is bound to the proof's
    // key; the API then accepts it only with a fresh proof of that key.
    dPoP: { enabled: true },
    rpInitiatedLogout: { enabled: false },
    // RFC 9126: the partner's server pushes the request and the browser
    // carries only its request_uri.
    pushedAuthorizationRequests: { enabled: true },
    userinfo: { enabled: false },
    revocation: {
      enabled: true,
      // RFC 7009 §2.1: a client revokes only what was issued to it.
      allowedPolicy: async (_ctx, client, token) => {
        if (token.clientId !== client.clientId) throw new errors.InvalidRequest('client is not authorized to revoke the presented token');
        return true;
      },
    },
    introspection: {
      enabled: true,
      // A partner introspects its own tokens; the platform API's client, any.
      // A suspended partner's tokens are inactive while it stays suspended.
      allowedPolicy: async (ctx, client, token) => {
        if (client.clientId !== token.clientId && partnerPropertiesOf(client).role !== 'resource_server') return false;
        const issuedTo = client.clientId === token.clientId ? client : await ctx.oidc.provider.Client.find(token.clientId as string);
        return issuedTo !== undefined && !partnerPropertiesOf(issuedTo).suspended;
      },
    },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => apiResource,
      useGrantedResource: () => true,
      getResourceServerInfo: (_ctx, indicator, client) => {
        if (indicator !== apiResource) throw new errors.InvalidTarget();
        return {
          scope: permissionsOf(client).join(' '),
          audience: apiResource,
          accessTokenFormat: 'opaque',
          accessTokenTTL: settings.ACCESS_TOKEN_TTL,
        };
      },
    },
  };
}

function lifetimes(settings: Settings): Configuration['ttl'] {
  return {
    AuthorizationCode: settings.AUTHORIZATION_CODE_TTL,
    AccessToken: settings.ACCESS_TOKEN_TTL,
    RefreshToken: refreshTokenTtl(settings.REFRESH_TOKEN_TTL),
    Interaction: settings.INTERACTION_TTL,
    Session: settings.SESSION_TTL,
    // An owner's approval lasts until it is removed.
    Grant: 10 * 365 * 24 * 3600,
  };
}

/** The owner behind a session, read once per request (see storage/read-ahead.ts). */
function ownerAccounts(db: Knex): Configuration['findAccount'] {
  return async (_ctx, id) => {
    const exists = await accountReads.once(id, async () => (await findAccount(db, id)) !== undefined);
    return exists ? { accountId: id, claims: () => ({ sub: id }) } : undefined;
  };
}

/** An access token carries its app and account, and is refused once its authorization is gone. */
function appOfToken(db: Knex): Configuration['extraTokenClaims'] {
  return async (_ctx, token) => {
    if (token.kind !== 'AccessToken' || !token.grantId) return undefined;
    const grantId = token.grantId;
    const authorization = await liveAuthorizationReads.once(grantId, () => findLiveAuthorizationByGrant(db, grantId));
    if (!authorization) throw new errors.InvalidGrant('the authorization was removed');
    return { app_id: authorization.app_id, account_id: authorization.account_id };
  };
}

/** The engine's errors shown to a person: the error page, never a stack trace. */
const engineErrorPage: Configuration['renderError'] = async (ctx, out, error) => {
  const code = out.error;
  // A 5xx is logged once, by the server_error listener (logServerError).
  const status = (error as { status?: number }).status ?? 500;
  // The database could not answer (src/db/unavailable.ts): the page says to try again, and when.
  if (code === 'temporarily_unavailable') return renderProblem(ctx, unavailable.page(databaseRetryAfterSeconds, code));
  const title = errorTitles[code] ?? (status >= 500 ? 'Something went wrong' : 'This request cannot be completed');
  const message = status >= 500 ? 'The server could not complete the request. Please try again.' : engineErrorMessage(code, out.error_description);
  renderProblem(ctx, new PageProblem(ctx.status, title, message, code));
};

function engineConfiguration(deps: OAuthDependencies): Configuration {
  const { db, settings } = deps;
  return {
    adapter: createAdapterFactory(db, settings, deps.recordIds),
    clients: [],
    clientAuthMethods: ['client_secret_basic', 'client_secret_post'],
    responseTypes: ['code'],
    clientDefaults: { id_token_signed_response_alg: 'ES256', grant_types: ['authorization_code'], response_types: ['code'] },
    scopes: ['openid'],
    claims: { openid: ['sub'] },
    pkce: { required: () => false },
    routes: oauthRoutes,
    jwks: { keys: [deps.signingKey] },
    enabledJWA: { dPoPSigningAlgValues: dpopSigningAlgorithms as never },
    cookies: engineCookies(deps.cookieKeys),
    extraClientMetadata: { properties: partnerClientProperties },
    extraParams: { scope: checkRequestedPermissions as never },
    findAccount: ownerAccounts(db),
    interactions: {
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
      policy: interactionPolicyForApps(),
    },
    features: engineFeatures(settings, platformApiResource(settings)),
    // A partner's access belongs to the app, not to the browser session the
    // owner approved it in: logging out, or approving the same partner for
    // another app, must not end it.
    expiresWithSession: () => false,
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    rotateRefreshToken: true,
    // Revoking any token of an authorization (RFC 7009) removes the authorization.
    revokeGrantPolicy: () => true,
    ttl: lifetimes(settings),
    extraTokenClaims: appOfToken(db),
    renderError: engineErrorPage,
  };
}

export function createOAuthProvider(deps: OAuthDependencies): Provider {
  const { db, settings, logger } = deps;
  const provider = new Provider(settings.ISSUER, engineConfiguration(deps));
  // The engine runs on the server's own request context, whose ctx.ip and protocol the server has already settled.
  provider.proxy = settings.TRUST_PROXY.kind !== 'none';
  useHashedClientSecrets(provider, deps.secretVerifier, deps.clientAuthGuesses);
  // Values a leak scanner recognises, and junk is refused before a lookup (storage/record-ids.ts).
  replaceTokenValues(provider, {
    AccessToken: () => newCredential('accessToken'),
    RefreshToken: () => newCredential('refreshToken'),
    AuthorizationCode: () => newCredential('authorizationCode'),
  });
  provider.use(normalizeEngineRequests(provider, db, deps.recordIds, oauthRoutes));
  provider.use(writeIssuedTokensTogether(db, oauthRoutes.token));
  provider.use(addAppIdToTokenResponse);
  provider.use(explainSuspension);
  // A partner may be granted app-level permissions only (see partners.ts).
  provider.use(advertiseWhatWorks({ scopes: permissionsOfLevel('app'), grantTypes: partnerGrantTypes(settings) }));
  provider.on('server_error', logServerError(logger));
  return provider;
}

/** The engine's 5xx, logged once (whatever page or JSON it renders) with the request's id. */
function logServerError(logger: Logger) {
  return (ctx: KoaContextWithOIDC, error: Error): void => {
    logger.error({ err: error, requestId: (ctx as unknown as Context).state.requestId, method: ctx.method, path: ctx.path }, 'oauth engine error');
  };
}
