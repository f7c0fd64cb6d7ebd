import type { Context } from 'koa';
import type { LoginAttempt } from '../../accounts/password-login.ts';
import { showLoginForm } from '../login-form.ts';
import { finishStep, interactionOf, interactionPaths, type InteractionDependencies } from './interaction.ts';

type FailedLogin = Exclude<LoginAttempt, { outcome: 'signed-in' }>;

/** The login page of the flow, naming the partner that asks. */
export function showLogin({ csrf }: InteractionDependencies) {
  return (ctx: Context, failed?: FailedLogin): void => {
    const { details, partner } = interactionOf(ctx);
    showLoginForm(ctx, csrf, { action: interactionPaths.login(details.uid), partnerName: partner.name }, failed);
  };
}

/** POST …/login: a wrong password shows the form again; a right one goes back to the engine. */
export function logIn(deps: InteractionDependencies) {
  const showForm = showLogin(deps);
  return async (ctx: Context): Promise<void> => {
    const attempt = await deps.login.attempt(ctx.request.body as Record<string, unknown>, ctx.ip);
    if (attempt.outcome !== 'signed-in') return showForm(ctx, attempt);
    return finishStep(deps.provider, ctx, { login: { accountId: attempt.account.id } });
  };
}
