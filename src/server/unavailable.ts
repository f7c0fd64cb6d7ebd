import type { Context, Next } from 'koa';
import { isDatabaseUnavailable, databaseRetryAfterSeconds } from '../db/unavailable.ts';
import { unavailable, type Problem } from '../http/problems.ts';
import { oauthRoutes } from '../oauth/provider.ts';

/** The engine's endpoints whose clients parse the OAuth error shape. */
const oauthJsonEndpoints = new Set<string>([oauthRoutes.token, oauthRoutes.introspection, oauthRoutes.revocation]);

/**
 * 503 for `path`, in the shape its clients parse: the OAuth error on the
 * engine's JSON endpoints, a page on the authorization endpoint (a person's
 * browser is there), else the API's error or a page as the client accepts.
 */
export function unavailableFor(path: string, retryAfterSeconds: number): Problem {
  if (oauthJsonEndpoints.has(path)) return unavailable.oauth(retryAfterSeconds);
  if (path === oauthRoutes.authorization || path.startsWith(`${oauthRoutes.authorization}/`)) return unavailable.page(retryAfterSeconds);
  return unavailable.apiOrPage(retryAfterSeconds);
}

/**
 * A request that met an unavailable database (src/db/unavailable.ts) is
 * answered 503 with Retry-After rather than 500: nothing is wrong with the
 * request, it can be sent again shortly. The engine's own endpoints render
 * the same error themselves (it carries oidc-provider's conventions); this
 * covers everything else, including the engine's steps that run before its
 * error handler.
 */
export async function answerDatabaseUnavailable(ctx: Context, next: Next): Promise<void> {
  try {
    await next();
  } catch (error) {
    if (!isDatabaseUnavailable(error)) throw error;
    throw Object.assign(unavailableFor(ctx.path, databaseRetryAfterSeconds), { cause: error });
  }
}

/** After the engine answered 503 (an unavailable database), the client is told when to come back. */
export function retryAfterEngineOutage(ctx: Context): void {
  if (ctx.status === 503 && !ctx.response.get('Retry-After')) ctx.set('Retry-After', String(databaseRetryAfterSeconds));
}
