import type { Context } from 'koa';
import { requestOrigin } from '../../http/origin.ts';
import { seeOther } from '../../http/see-other.ts';
import { showLoginForm } from '../login-form.ts';
import type { DashboardDependencies } from './dashboard.ts';

/** GET /login: the form, or straight on to the dashboard when already signed in. */
export function showLogin({ sessions, csrf }: DashboardDependencies) {
  return async (ctx: Context): Promise<void> => {
    if (await sessions.owner(ctx)) return seeOther(ctx, '/dashboard');
    showLoginForm(ctx, csrf, { action: '/login' });
  };
}

/** POST /login: a session on success; the form again, with the one message, on failure. */
export function logIn({ login, sessions, csrf }: DashboardDependencies) {
  return async (ctx: Context): Promise<void> => {
    const attempt = await login.attempt(ctx.request.body as Record<string, unknown>, requestOrigin(ctx));
    if (attempt.outcome !== 'signed-in') return showLoginForm(ctx, csrf, { action: '/login' }, attempt);
    await sessions.start(ctx, attempt.account.id);
    seeOther(ctx, '/dashboard');
  };
}

export function logOut({ sessions }: DashboardDependencies) {
  return async (ctx: Context): Promise<void> => {
    await sessions.end(ctx);
    seeOther(ctx, '/login');
  };
}
