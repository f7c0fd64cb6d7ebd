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

export function setPageHeaders(ctx: Context): void {
  ctx.set('Content-Security-Policy', contentSecurityPolicy);
  ctx.set('X-Frame-Options', 'DENY');
  ctx.set('X-Content-Type-Options', 'nosniff');
  ctx.set('Referrer-Policy', 'no-referrer');
  ctx.set('Cache-Control', 'no-store');
}

/** Applies the page headers to any HTML response, wherever it was produced. */
export async function pageHeaders(ctx: Context, next: Next): Promise<void> {
  await next();
  if (ctx.response.is('html')) setPageHeaders(ctx);
}
