import { STATUS_CODES } from 'node:http';
import type { Context, Next } from 'koa';
import { renderPage } from './render.ts';

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

/** bad_request, not_found, method_not_allowed, …: the status's own words as an error code. */
export function codeForStatus(status: number): string {
  if (status >= 500) return 'internal_error';
  return (STATUS_CODES[status] ?? 'bad_request').toLowerCase().replace(/[^a-z]+/g, '_');
}

/** Where the boundary reports a 5xx: the server's logger. */
export interface ErrorLog {
  error(details: object, message: string): void;
}

/**
 * The outermost boundary: whatever a handler throws, the client gets a short
 * JSON error or an error page, never a stack trace; 5xx are logged in full.
 */
export function errorBoundary(logger: ErrorLog) {
  return async function boundary(ctx: Context, next: Next): Promise<void> {
    try {
      await next();
    } catch (caught) {
      const error = caught as { status?: number; expose?: boolean; message?: string };
      const status = error.status && error.status >= 400 && error.status < 600 ? error.status : 500;
      if (status >= 500) logger.error({ err: caught, method: ctx.method, path: ctx.path }, 'request failed');
      const title = status < 500 && error.expose && error.message ? error.message : status < 500 ? 'Bad request' : 'Internal server error';
      if (wantsJson(ctx)) {
        apiError(ctx, status, codeForStatus(status), title);
      } else {
        renderPage(ctx, status, 'errorPage', {
          title: status >= 500 ? 'Something went wrong' : 'This request cannot be completed',
          message: status >= 500 ? 'The server could not complete the request. Please try again.' : title,
        });
      }
    }
  };
}
