import type { Context, Next } from 'koa';

/**
 * RFC 6797 Strict-Transport-Security on every response in production: once
 * a browser has seen the service over https it never tries plain http again
 * for a year, so a network attacker cannot strip TLS from a later visit.
 * Set before anything runs, so error answers carry it too.
 */
export const strictTransportSecurityHeader = 'max-age=31536000; includeSubDomains';

export function strictTransportSecurity(ctx: Context, next: Next): Promise<void> {
  ctx.set('Strict-Transport-Security', strictTransportSecurityHeader);
  return next();
}
