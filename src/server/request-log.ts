import { randomUUID } from 'node:crypto';
import type { Context, Next } from 'koa';
import type { AccessOutcome } from '../api/access.ts';
import type { Logger } from '../log/logger.ts';
import type { Metrics } from './metrics.ts';

/**
 * One JSON line per request: method, path (never the query, which can carry
 * codes), status, time; and its metrics: the request histogram, and the
 * authorization decision when the API made one.
 */
export function requestLog(logger: Logger, metrics: Metrics) {
  return async function logRequest(ctx: Context, next: Next): Promise<void> {
    const started = performance.now();
    const requestId = randomUUID();
    const { method, path } = ctx;
    ctx.state.requestId = requestId;
    ctx.set('X-Request-Id', requestId);
    try {
      await next();
    } finally {
      const status = ctx.respond === false ? ctx.res.statusCode : ctx.status;
      const ms = performance.now() - started;
      metrics.observe(ctx, status, ms / 1000);
      if (ctx.state.access) metrics.authorization(ctx.state.access as AccessOutcome);
      logger.info({ requestId, method, path, status, ms: Math.round(ms), ip: ctx.ip }, 'request');
    }
  };
}
