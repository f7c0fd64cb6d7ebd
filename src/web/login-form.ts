import type { Context } from 'koa';
import { wrongCredentialsMessage, type LoginAttempt } from '../accounts/password-login.ts';
import { renderPage } from '../http/render.ts';
import type { CsrfGuard } from '../http/csrf.ts';

/**
 * Renders a login form (the OAuth flow's or the dashboard's), again after a
 * failed attempt: 401 with the one message for wrong credentials, 429 with
 * Retry-After when throttled.
 */
export function showLoginForm(
  ctx: Context,
  csrf: CsrfGuard,
  view: { action: string; partnerName?: string | undefined; flow?: { abortAction: string; reviewed: boolean } | undefined },
  failed?: Exclude<LoginAttempt, { outcome: 'signed-in' }>,
): void {
  const base = { ...view, csrfToken: csrf.tokenFor(ctx) };
  if (!failed) return renderPage(ctx, 200, 'loginPage', base);
  if (failed.outcome === 'throttled') {
    ctx.set('Retry-After', String(failed.retryAfter));
    return renderPage(ctx, 429, 'loginPage', {
      ...base,
      email: failed.email,
      error: `Too many failed attempts. Try again in ${failed.retryAfter} seconds.`,
    });
  }
  return renderPage(ctx, 401, 'loginPage', { ...base, email: failed.email, error: wrongCredentialsMessage });
}
