import { randomUUID } from 'node:crypto';
import type { Context, Next } from 'koa';
import type { Logger } from '../log/logger.ts';

/** One JSON line per request: method, path (never the query, which can carry codes), status, time. */
export function requestLog(logger: Logger) {
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
      logger.info(
        { requestId, method, path, status, ms: Math.round(performance.now() - started), ip: ctx.ip },
        'request',
      );
    }
  };
}
