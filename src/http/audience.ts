import type { Context } from 'koa';

/** The platform API's paths: JSON only, with their own short middleware stack. */
export function isApiPath(path: string): boolean {
  return path === '/v2' || path.startsWith('/v2/');
}

/** The OAuth endpoints' paths, whose clients parse the OAuth error shape of RFC 6749. */
export function isOAuthPath(path: string): boolean {
  return path.startsWith('/oauth/');
}

/**
 * API or page? The one answer to how a refusal that any address can meet is
 * rendered: JSON on the platform API and the OAuth endpoints, and for any
 * client that does not take HTML; an error page for browsers.
 */
export function wantsJson(ctx: Context): boolean {
  return isApiPath(ctx.path) || isOAuthPath(ctx.path) || !ctx.accepts('html');
}
