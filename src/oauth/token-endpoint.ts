import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import type { Context, Next } from 'koa';
import type { KoaContextWithOIDC, Provider } from 'oidc-provider';

const bodyLimit = 56 * 1024;

async function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > bodyLimit) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

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

/**
 * A stand-in for the original request whose body is `body`, for the engine
 * to read as usual. It is a plain stream carrying the request's fields, not a
 * second IncomingMessage, which would take over (and close) the socket.
 */
function replayWithBody(original: IncomingMessage, body: Buffer, contentType: string): IncomingMessage {
  const stream = new Readable({ read() {} });
  stream.push(body);
  stream.push(null);
  return Object.assign(stream, {
    method: original.method,
    url: original.url,
    httpVersion: original.httpVersion,
    httpVersionMajor: original.httpVersionMajor,
    httpVersionMinor: original.httpVersionMinor,
    socket: original.socket,
    connection: original.socket,
    headers: { ...original.headers, 'content-type': contentType, 'content-length': String(body.length) },
  }) as unknown as IncomingMessage;
}

/** The client id a token request authenticates as: client_secret_basic's user, or the client_id field. */
function requestingClientId(ctx: Context, params: URLSearchParams): string | undefined {
  const basic = /^Basic ([A-Za-z0-9+/]+=*)$/i.exec(ctx.get('authorization'));
  if (basic?.[1]) {
    const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
    const separator = decoded.indexOf(':');
    try {
      if (separator > 0) return decodeURIComponent(decoded.slice(0, separator));
    } catch {
      return undefined;
    }
  }
  return params.get('client_id') ?? undefined;
}

/** The first registered redirect URL of a client, which an omitted redirect_uri stands for. */
async function firstRedirectUri(provider: Provider, clientId: string | undefined): Promise<string | undefined> {
  const client = clientId ? await provider.Client.find(clientId) : undefined;
  return client?.redirectUris?.[0];
}

function refuseBody(ctx: Context): void {
  ctx.status = 400;
  ctx.set('Cache-Control', 'no-store');
  ctx.body = { error: 'invalid_request', error_description: 'the body must be a JSON object of string values or a form' };
}

/**
 * Two things the platform's partners rely on that the engine does not do by
 * itself, applied before it sees the request:
 * - the SDKs post JSON to the token endpoint, where RFC 6749 says form: a JSON
 *   body becomes the equivalent form;
 * - a partner that omitted redirect_uri at /oauth/authorize was sent to its
 *   first registered URL and omits it at /oauth/token too; the same default
 *   is filled in, so the engine's exact comparison still applies.
 */
export function normalizeAuthorizationRequests(provider: Provider, paths: { authorization: string; token: string }) {
  return async function normalize(ctx: Context, next: Next): Promise<void> {
    if (ctx.method === 'GET' && ctx.path === paths.authorization) {
      const query = new URLSearchParams(ctx.querystring);
      if (!query.has('redirect_uri') && !query.has('request') && !query.has('request_uri')) {
        const fallback = await firstRedirectUri(provider, query.get('client_id') ?? undefined);
        if (fallback) {
          query.set('redirect_uri', fallback);
          ctx.querystring = query.toString();
        }
      }
      return next();
    }
    if (ctx.method !== 'POST' || ctx.path !== paths.token) return next();
    const isJson = ctx.is('application/json');
    if (!isJson && !ctx.is('application/x-www-form-urlencoded')) return next();
    const body = await readBody(ctx.req);
    const params = body && (isJson ? jsonToParams(body) : new URLSearchParams(body.toString('utf8')));
    if (!params) return refuseBody(ctx);
    if (params.get('grant_type') === 'authorization_code' && !params.has('redirect_uri')) {
      const fallback = await firstRedirectUri(provider, requestingClientId(ctx, params));
      if (fallback) params.set('redirect_uri', fallback);
    }
    const replay = replayWithBody(ctx.req, Buffer.from(params.toString()), 'application/x-www-form-urlencoded');
    ctx.req = replay;
    ctx.request.req = replay;
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
