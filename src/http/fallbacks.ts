import type { Context, Next } from 'koa';
import { ApiOrPageProblem, ApiProblem, PageProblem } from './problems.ts';

function notFound(): ApiOrPageProblem {
  return new ApiOrPageProblem(
    new ApiProblem(404, 'not_found', 'Resource not found'),
    new PageProblem(404, 'Page not found', 'There is nothing at this address.'),
  );
}

/** 405 with the methods the address does take (RFC 9110 §15.5.6). */
export function methodNotAllowed(allowed: string): ApiOrPageProblem {
  const headers = { Allow: allowed };
  return new ApiOrPageProblem(
    new ApiProblem(405, 'method_not_allowed', 'Method Not Allowed', headers),
    new PageProblem(405, 'This request cannot be completed', 'This address does not accept that method.', undefined, headers),
  );
}

/**
 * What the routers leave unanswered gets the usual body: nothing at this
 * address (404), or a wrong method (405 with Allow). It runs after them, so
 * they decide the status. A method the routers do not know at all (TRACE,
 * PROPFIND, …) they answer 501, with Allow listing what the address takes:
 * that is a wrong method too where the address exists, and nothing at all
 * where it does not.
 */
export async function explainUnanswered(ctx: Context, next: Next): Promise<void> {
  await next();
  if (ctx.status === 404 && ctx.body == null) throw notFound();
  if (ctx.status !== 405 && ctx.status !== 501) return;
  const allowed = ctx.response.get('Allow');
  if (allowed) throw methodNotAllowed(allowed);
  ctx.remove('Allow');
  throw notFound();
}
