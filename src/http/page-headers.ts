import type { Context, Next } from 'koa';

/**
 * Headers for every HTML page: no framing (consent must not be clickjacked),
 * scripts and styles only from our own files (no inline code), no
 * referrer leaving the site, and nothing cached.
 */
const contentSecurityPolicy = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' https: data:",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

/** The page headers; a policy already in place (with a page's own script hash added) is kept. */
export function setPageHeaders(ctx: Context): void {
  if (!ctx.response.get('Content-Security-Policy')) ctx.set('Content-Security-Policy', contentSecurityPolicy);
  ctx.set('X-Frame-Options', 'DENY');
  ctx.set('X-Content-Type-Options', 'nosniff');
  ctx.set('Referrer-Policy', 'no-referrer');
  ctx.set('Cache-Control', 'no-store');
}

/**
 * Applies the page headers to any HTML response, wherever it was produced.
 * The policy is in place before the handler runs: the engine's form_post
 * page, whose one inline script submits the authorization response to the
 * partner, adds that script's hash to the policy it finds (and only then may
 * the script run).
 */
export async function pageHeaders(ctx: Context, next: Next): Promise<void> {
  ctx.set('Content-Security-Policy', contentSecurityPolicy);
  await next();
  if (ctx.response.is('html')) setPageHeaders(ctx);
  else ctx.remove('Content-Security-Policy');
}
