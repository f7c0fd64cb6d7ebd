import type { Context, Next } from 'koa';
import type { Logger } from '../log/logger.ts';
import { renderPage } from '../web/render.ts';

/** The API's one error shape for 400, 401 and 404 (Sunshine Conversations v2). */
export function apiError(ctx: Context, status: number, code: string, title: string): void {
  ctx.status = status;
  ctx.set('Cache-Control', 'no-store');
  ctx.body = { errors: [{ code, title }] };
}

/** Whether a request is for the JSON API rather than a page. */
export function wantsJson(ctx: Context): boolean {
  return ctx.path.startsWith('/v2/') || ctx.path === '/v2' || ctx.path.startsWith('/oauth/') || !ctx.accepts('html');
}

/**
 * The outermost boundary: whatever a handler throws, the client gets a short
 * JSON error or an error page, never a stack trace; 5xx are logged in full.
 */
export function errorBoundary(logger: Logger) {
  return async function boundary(ctx: Context, next: Next): Promise<void> {
    try {
      await next();
    } catch (caught) {
      const error = caught as { status?: number; expose?: boolean; message?: string };
      const status = error.status && error.status >= 400 && error.status < 600 ? error.status : 500;
      if (status >= 500) logger.error({ err: caught, method: ctx.method, path: ctx.path }, 'request failed');
      const title = status < 500 && error.expose && error.message ? error.message : status < 500 ? 'Bad request' : 'Internal server error';
      if (wantsJson(ctx)) {
        apiError(ctx, status, status >= 500 ? 'internal_error' : 'bad_request', title);
      } else {
        renderPage(ctx, status, 'errorPage', {
          title: status >= 500 ? 'Something went wrong' : 'This request cannot be completed',
          message: status >= 500 ? 'The server could not complete the request. Please try again.' : title,
        });
      }
    }
  };
}
