import type { Context, Next } from 'koa';
import { ApiOrPageProblem, ApiProblem, PageProblem } from './problems.ts';

/** Whether a string, or any string inside an object or array, holds a NUL character. */
export function containsNul(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('\0');
  if (Array.isArray(value)) return value.some(containsNul);
  if (value && typeof value === 'object') return Object.entries(value).some(([key, item]) => key.includes('\0') || containsNul(item));
  return false;
}

function refusal(title = 'The request contains a NUL character'): ApiOrPageProblem {
  return new ApiOrPageProblem(
    new ApiProblem(400, 'bad_request', title),
    new PageProblem(400, 'This request cannot be completed', 'The request contains a character that is not allowed.'),
  );
}

/**
 * PostgreSQL text cannot hold NUL, so a value carrying one would fail deep in
 * a query. Such requests are refused at the door: the URL here, parsed
 * bodies right after the body parser, the engine's bodies in
 * engine-requests.ts.
 */
export async function refuseNulInUrl(ctx: Context, next: Next): Promise<void> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(ctx.url);
  } catch {
    throw refusal('The address has a malformed percent-encoding');
  }
  if (decoded.includes('\0')) throw refusal();
  return next();
}

export async function refuseNulInBody(ctx: Context, next: Next): Promise<void> {
  if (containsNul(ctx.request.body)) throw refusal();
  return next();
}
