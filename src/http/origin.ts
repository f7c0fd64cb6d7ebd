import type { Context } from 'koa';

/** Where a request came from, as the audit trail records it: the client address and the user agent. */
export function requestOrigin(ctx: Context): { clientIp: string; userAgent: string | undefined } {
  return { clientIp: ctx.ip, userAgent: ctx.get('user-agent') || undefined };
}
