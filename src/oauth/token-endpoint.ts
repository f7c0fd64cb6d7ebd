import { IncomingMessage } from 'node:http';
import type { Context, Next } from 'koa';
import type { KoaContextWithOIDC } from 'oidc-provider';

const jsonBodyLimit = 56 * 1024;

async function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > jsonBodyLimit) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** A JSON object of scalar values, re-encoded as a form; undefined when it is anything else. */
function jsonToForm(body: Buffer): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
  const form = new URLSearchParams();
  for (const [key, value] of Object.entries(parsed)) {
    if (value === null || value === undefined) continue;
    if (!['string', 'number', 'boolean'].includes(typeof value)) return undefined;
    form.append(key, String(value));
  }
  return form.toString();
}

/** A request equal to the original but whose body is `body`, for the engine to read as usual. */
function replayWithBody(original: IncomingMessage, body: Buffer, contentType: string): IncomingMessage {
  const replay = new IncomingMessage(original.socket);
  replay.method = original.method;
  replay.url = original.url;
  replay.httpVersionMajor = original.httpVersionMajor;
  replay.httpVersionMinor = original.httpVersionMinor;
  replay.httpVersion = original.httpVersion;
  replay.headers = { ...original.headers, 'content-type': contentType, 'content-length': String(body.length) };
  replay.push(body);
  replay.push(null);
  return replay;
}

/**
 * The platform's SDKs post JSON to the token endpoint; RFC 6749 says form.
 * A JSON body is turned into the equivalent form before the engine sees it,
 * so both are handled by the same, standard code path.
 */
export function acceptJsonTokenRequests(tokenPath: string) {
  return async function jsonTokenRequests(ctx: Context, next: Next): Promise<void> {
    if (ctx.method !== 'POST' || ctx.path !== tokenPath || !ctx.is('application/json')) return next();
    const body = await readBody(ctx.req);
    const form = body && jsonToForm(body);
    if (form === undefined) {
      ctx.status = 400;
      ctx.set('Cache-Control', 'no-store');
      ctx.body = { error: 'invalid_request', error_description: 'the body must be a JSON object of string values' };
      return;
    }
    const replay = replayWithBody(ctx.req, Buffer.from(form), 'application/x-www-form-urlencoded');
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
