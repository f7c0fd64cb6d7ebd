import type { Context, Next } from 'koa';
import type { KoaContextWithOIDC, Provider } from 'oidc-provider';
import type { Knex } from 'knex';
import { responseModes } from './metadata.ts';
import { partnerPropertiesOf } from './client-metadata.ts';
import { containsNul } from '../http/nul-bytes.ts';
import { readRequestBody } from '../http/request-body.ts';
import { OAuthProblem } from '../http/problems.ts';
import { replayRequestBody } from './engine-internals.ts';
import { readAheadIntrospection, readAheadTokenRequest, type GrantingKind } from './storage/read-ahead.ts';
import type { RecordIds } from './storage/record-ids.ts';
import { mayBeIssued } from '../keys/credential-formats.ts';

/** The grants that present a single-use token, the record it names and the parameter that carries it. */
const grantTokens = new Map<string, { kind: GrantingKind; parameter: string }>([
  ['authorization_code', { kind: 'AuthorizationCode', parameter: 'code' }],
  ['refresh_token', { kind: 'RefreshToken', parameter: 'refresh_token' }],
]);

/** The engine's own limit on request bodies. */
const bodyLimit = 56 * 1024;

/** A JSON object of scalar values as form parameters; undefined when it is anything else. */
function jsonToParams(body: Buffer): URLSearchParams | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(parsed)) {
    if (value === null || value === undefined) continue;
    if (!['string', 'number', 'boolean'].includes(typeof value)) return undefined;
    params.append(key, String(value));
  }
  return params;
}

/** The client_secret_basic credentials of a request, if it carries them. */
function basicCredentials(ctx: Context): { clientId: string; secret: string } | undefined {
  const basic = /^Basic ([A-Za-z0-9+/]+=*)$/i.exec(ctx.get('authorization'));
  if (!basic?.[1]) return undefined;
  const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
  const separator = decoded.indexOf(':');
  if (separator <= 0) return undefined;
  try {
    return { clientId: decodeURIComponent(decoded.slice(0, separator)), secret: decodeURIComponent(decoded.slice(separator + 1)) };
  } catch {
    return undefined;
  }
}

/** The first registered redirect URL of a client, which an omitted redirect_uri stands for. */
async function firstRedirectUri(provider: Provider, clientId: string | undefined): Promise<string | undefined> {
  const client = clientId ? await provider.Client.find(clientId) : undefined;
  return client?.redirectUris?.[0];
}

export interface EnginePaths {
  authorization: string;
  token: string;
  introspection: string;
  revocation: string;
  pushed_authorization_request: string;
}

/**
 * What the platform's partners rely on that the engine does not do by
 * itself, applied before it sees the request:
 * - a partner that omits redirect_uri at /oauth/authorize (or when pushing
 *   the request, RFC 9126) is sent to its first registered URL, and omits it
 *   at /oauth/token too: the same default is filled in, so the engine's exact
 *   comparison still applies;
 * - response types other than code, and response modes other than query and
 *   form_post, are refused in the query, as RFC 6749 §4.1.2.1 says, rather
 *   than in the fragment;
 * - the SDKs post JSON to the token endpoint: a JSON body becomes the
 *   equivalent form;
 * - bodies are read as every body is (src/http/request-body.ts: decoded,
 *   at most the engine's own limit, JSON of bounded depth); values with
 *   NUL, which PostgreSQL cannot store, are refused before any lookup.
 */
export function normalizeEngineRequests(provider: Provider, db: Knex, ids: RecordIds, paths: EnginePaths) {
  const bodyEndpoints = new Set([paths.token, paths.introspection, paths.revocation, paths.pushed_authorization_request]);

  async function authorize(ctx: Context, next: Next): Promise<void> {
    const query = new URLSearchParams(ctx.querystring);
    const responseType = query.get('response_type');
    if (responseType && responseType !== 'code' && !query.has('response_mode')) {
      // An unsupported type the engine would answer in the fragment; "none" is
      // unsupported too and answered in the query, with the same error.
      query.set('response_type', 'none');
    }
    const responseMode = query.get('response_mode');
    if (responseMode !== null && !responseModes.includes(responseMode)) {
      // The engine knows the fragment mode and would answer there; an unknown
      // mode is refused with unsupported_response_mode, in the query.
      query.set('response_mode', 'unsupported');
    }
    if (!query.has('redirect_uri') && !query.has('request') && !query.has('request_uri')) {
      const fallback = await firstRedirectUri(provider, query.get('client_id') ?? undefined);
      if (fallback) query.set('redirect_uri', fallback);
    }
    ctx.querystring = query.toString();
    return next();
  }

  /** What the engine will look up for this request, read in one statement (see read-ahead.ts). */
  async function readAhead(path: string, params: URLSearchParams, clientId: string | undefined): Promise<void> {
    if (!clientId) return;
    const grant = grantTokens.get(params.get('grant_type') ?? '');
    const value = grant && params.get(grant.parameter);
    if (path === paths.token && grant && value) return readAheadTokenRequest(db, ids, clientId, grant.kind, value);
    const token = params.get('token');
    if (path === paths.introspection && token) return readAheadIntrospection(db, ids, clientId, token, params.get('token_type_hint'));
  }

  async function postedBody(ctx: Context, next: Next): Promise<void> {
    const credentials = basicCredentials(ctx);
    if (credentials && (containsNul([credentials.clientId, credentials.secret]) || !mayBeIssued('clientSecret', credentials.secret))) {
      throw new OAuthProblem(401, 'invalid_client', 'client authentication failed', { 'WWW-Authenticate': 'Basic realm="appgrant"' });
    }
    const isJson = ctx.is('application/json');
    if (!isJson && !ctx.is('application/x-www-form-urlencoded')) return next();
    const body = await readRequestBody(ctx, bodyLimit, { json: Boolean(isJson) });
    const params = isJson ? jsonToParams(body) : new URLSearchParams(body.toString('utf8'));
    if (!params) throw new OAuthProblem(400, 'invalid_request', 'the body must be a JSON object of string values');
    if (containsNul([...params.keys(), ...params.values()])) throw new OAuthProblem(400, 'invalid_request', 'the request contains a NUL character');
    // A secret that is not one this server makes is refused before the client, or anything else, is read.
    const postedSecret = params.get('client_secret');
    if (postedSecret !== null && !mayBeIssued('clientSecret', postedSecret)) throw new OAuthProblem(401, 'invalid_client', 'client authentication failed');
    const clientId = credentials?.clientId ?? params.get('client_id') ?? undefined;
    await readAhead(ctx.path, params, clientId);
    const grantsByCode = ctx.path === paths.token && params.get('grant_type') === 'authorization_code';
    if ((grantsByCode || ctx.path === paths.pushed_authorization_request) && !params.has('redirect_uri')) {
      const fallback = await firstRedirectUri(provider, clientId);
      if (fallback) params.set('redirect_uri', fallback);
    }
    replayRequestBody(ctx, Buffer.from(params.toString()), 'application/x-www-form-urlencoded');
    return next();
  }

  return async function normalize(ctx: Context, next: Next): Promise<void> {
    if (ctx.method === 'GET' && ctx.path === paths.authorization) return authorize(ctx, next);
    if (ctx.method === 'POST' && bodyEndpoints.has(ctx.path)) return postedBody(ctx, next);
    return next();
  };
}

/**
 * Every URL the engine builds (metadata, redirects, the htu a DPoP proof must
 * name) starts from the request's origin. It is made the issuer's, so a
 * client's Host, absolute-form request line or X-Forwarded-* headers can
 * neither change what is advertised nor break URL building.
 */
export function addressedToIssuer(issuer: string) {
  const { protocol, host, hostname, origin } = new URL(issuer);
  const scheme = protocol.slice(0, -1);
  return function presentIssuerOrigin(ctx: Context, next: Next): Promise<void> {
    const href = () => `${origin}${ctx.path}${ctx.search}`;
    Object.defineProperties(ctx.request, {
      protocol: { value: scheme },
      secure: { value: scheme === 'https' },
      host: { value: host },
      hostname: { value: hostname },
      href: { get: href },
      URL: { get: () => new URL(href()) },
    });
    return next();
  };
}

/** The token response names the app the token acts on, as the platform's partners expect. */
export async function addAppIdToTokenResponse(ctx: Context, next: Next): Promise<void> {
  await next();
  const { oidc } = ctx as unknown as KoaContextWithOIDC;
  if (oidc?.route !== 'token' || ctx.status !== 200) return;
  const body = ctx.body as Record<string, unknown> | undefined;
  const appId = oidc.entities.AccessToken?.extra?.app_id;
  if (body?.access_token && appId) body.app_id = appId;
}

/**
 * A suspended partner's client allows no grant (client-metadata.ts), so the
 * engine refuses its token requests with a generic "grant type not allowed";
 * the answer says why instead, once the client has authenticated.
 */
export async function explainSuspension(ctx: Context, next: Next): Promise<void> {
  await next();
  const { oidc } = ctx as unknown as KoaContextWithOIDC;
  if (oidc?.route !== 'token' || ctx.status !== 400 || !oidc.client || !partnerPropertiesOf(oidc.client).suspended) return;
  ctx.body = { error: 'unauthorized_client', error_description: 'the integration is suspended by the platform' };
}
