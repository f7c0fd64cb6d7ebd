import type { Context, Next } from 'koa';
import { ApiOrPageProblem, ApiProblem, codeForStatus, PageProblem } from './problems.ts';

/**
 * What the routers leave unanswered gets the usual body: nothing at this
 * address (404), or a wrong method, which the routers answer with 405 (or
 * 501) and an Allow header. It runs after them, so they decide the status.
 */
export async function explainUnanswered(ctx: Context, next: Next): Promise<void> {
  await next();
  if (ctx.status === 404 && ctx.body == null) {
    throw new ApiOrPageProblem(
      new ApiProblem(404, 'not_found', 'Resource not found'),
      new PageProblem(404, 'Page not found', 'There is nothing at this address.'),
    );
  }
  if (ctx.status !== 405 && ctx.status !== 501) return;
  const title = ctx.status === 405 ? 'Method Not Allowed' : 'Not Implemented';
  throw new ApiOrPageProblem(
    new ApiProblem(ctx.status, codeForStatus(ctx.status), title),
    new PageProblem(ctx.status, 'This request cannot be completed', 'This address does not accept that method.'),
  );
}
