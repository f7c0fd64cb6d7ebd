import type { Context, Next } from 'koa';
import { ZodError, type z } from 'zod';
import { isOAuthPath, wantsJson } from './audience.ts';
import { ApiOrPageProblem, ApiProblem, codeForStatus, forbiddenBody, ForbiddenProblem, invalidInput, OAuthProblem, PageProblem, Problem, type apiErrorsSchema, type oauthErrorSchema } from './problems.ts';
import { layoutSessionOf, renderPage } from './render.ts';

/** A refusal any address can meet, in its audience's shape: a page, the OAuth error, or the API's. */
function problemFor(ctx: Context, problem: ApiOrPageProblem): Problem {
  if (!wantsJson(ctx)) return problem.page;
  return isOAuthPath(ctx.path) ? problem.oauth : problem.api;
}

/** Writes a thrown problem as the response its kind fixes. */
export function renderProblem(ctx: Context, problem: Problem): void {
  if (problem instanceof ApiOrPageProblem) return renderProblem(ctx, problemFor(ctx, problem));
  for (const [name, value] of Object.entries(problem.headers)) ctx.set(name, value);
  if (problem instanceof PageProblem) {
    return renderPage(ctx, problem.status, 'errorPage', { title: problem.title, message: problem.message, code: problem.code, session: layoutSessionOf(ctx), returnTo: problem.returnTo });
  }
  ctx.status = problem.status;
  ctx.set('Cache-Control', 'no-store');
  if (problem instanceof ForbiddenProblem) {
    ctx.type = 'application/json';
    ctx.body = forbiddenBody;
  } else if (problem instanceof OAuthProblem) {
    ctx.body = { error: problem.error, error_description: problem.message } satisfies z.output<typeof oauthErrorSchema>;
  } else if (problem instanceof ApiProblem) {
    ctx.body = { errors: [...problem.errors] } satisfies z.output<typeof apiErrorsSchema>;
  }
}

/** Anything else that escaped a handler: a short error, never a stack trace. */
function unexpected(caught: unknown): ApiOrPageProblem {
  const error = caught as { status?: number; expose?: boolean; message?: string };
  const status = error.status && error.status >= 400 && error.status < 600 ? error.status : 500;
  if (status >= 500) {
    const page = new PageProblem(status, 'Something went wrong', 'The server could not complete the request. Please try again.');
    return new ApiOrPageProblem(new ApiProblem(status, codeForStatus(status), 'Internal server error'), page);
  }
  const title = error.expose && error.message ? error.message : 'Bad request';
  return new ApiOrPageProblem(new ApiProblem(status, codeForStatus(status), title), new PageProblem(status, 'This request cannot be completed', title));
}

/** A thrown problem as is; invalid input as the one refusal for it; undefined for anything else. */
function asProblem(caught: unknown): Problem | undefined {
  if (caught instanceof Problem) return caught;
  if (caught instanceof ZodError) return invalidInput(caught);
  return undefined;
}

/**
 * Renders the problems thrown below it and lets anything else through. The
 * API mounts it under its CORS step, so a refusal still carries the CORS
 * headers its caller is entitled to.
 */
export async function renderProblems(ctx: Context, next: Next): Promise<void> {
  try {
    await next();
  } catch (caught) {
    const problem = asProblem(caught);
    if (!problem) throw caught;
    renderProblem(ctx, problem);
  }
}

/** Where the boundary reports a 5xx: the server's logger. */
export interface ErrorLog {
  error(details: object, message: string): void;
}

/**
 * The outermost boundary: whatever a handler throws, the client gets the
 * problem's own response, or a short JSON error or error page, never a stack
 * trace; 5xx are logged in full.
 */
export function errorBoundary(logger: ErrorLog) {
  return async function boundary(ctx: Context, next: Next): Promise<void> {
    try {
      await next();
    } catch (caught) {
      const problem = asProblem(caught) ?? unexpected(caught);
      if (problem.status >= 500) logger.error({ err: caught, requestId: ctx.state.requestId, method: ctx.method, path: ctx.path }, 'request failed');
      renderProblem(ctx, problem);
    }
  };
}
