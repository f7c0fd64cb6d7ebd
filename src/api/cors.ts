import type { Context, Next } from 'koa';
import type { Caller } from '../credentials/caller.ts';

/**
 * CORS for the API, as the platform has always done it (docs/contract.md, "CORS"): a
 * browser may use appUser-level credentials, which act for one user, and
 * nothing broader. Responses to app- and account-level callers carry no CORS
 * headers, so a browser refuses to hand them to page scripts. Preflights
 * carry no credentials, so they are answered for every configured origin.
 * It runs before routing, as preflights match no route of their own, and
 * only on the API's paths.
 */
export function apiCors(allowedOrigins: readonly string[]) {
  const allows = (origin: string) => allowedOrigins.includes('*') || allowedOrigins.includes(origin);
  return async function cors(ctx: Context, next: Next): Promise<void> {
    const origin = ctx.get('origin');
    ctx.vary('Origin');
    if (ctx.method === 'OPTIONS' && origin && ctx.get('access-control-request-method')) {
      ctx.status = 204;
      if (!allows(origin)) return;
      ctx.set('Access-Control-Allow-Origin', origin);
      ctx.set('Access-Control-Allow-Methods', 'GET, POST, PATCH, DELETE');
      ctx.set('Access-Control-Allow-Headers', 'Authorization, Content-Type');
      ctx.set('Access-Control-Max-Age', '600');
      return;
    }
    await next();
    const caller = ctx.state.caller as Caller | undefined;
    if (origin && caller?.level === 'appUser' && allows(origin)) ctx.set('Access-Control-Allow-Origin', origin);
  };
}
