import type { Context } from 'koa';
import type { Knex } from 'knex';
import { endEngineSessionByUid } from '../../oauth/login-sessions.ts';
import { requestOrigin } from '../../http/origin.ts';
import type { LoginAttempt } from '../../accounts/password-login.ts';
import { showLoginForm } from '../login-form.ts';
import { finishStep, interactionOf, interactionPaths, type InteractionDependencies, type InteractionDetails } from './interaction.ts';

type FailedLogin = Exclude<LoginAttempt, { outcome: 'signed-in' }>;

/** The login page of the flow, naming the partner that asks. */
export function showLogin({ csrf }: InteractionDependencies) {
  return (ctx: Context, failed?: FailedLogin): void => {
    const { details, partner } = interactionOf(ctx);
    showLoginForm(ctx, csrf, {
      action: interactionPaths.login(details.uid),
      partnerName: partner.name,
      flow: { abortAction: interactionPaths.abort(details.uid), reviewed: partner.approved },
    }, failed);
  };
}

/** POST …/login: a wrong password shows the form again; a right one goes back to the engine. */
export function logIn(deps: InteractionDependencies) {
  const showForm = showLogin(deps);
  return async (ctx: Context): Promise<void> => {
    const attempt = await deps.login.attempt(ctx.request.body as Record<string, unknown>, requestOrigin(ctx));
    if (attempt.outcome !== 'signed-in') return showForm(ctx, attempt);
    await endOtherOwnersSession(deps.db, interactionOf(ctx).details, attempt.account.id);
    return finishStep(deps.provider, ctx, { login: { accountId: attempt.account.id } });
  };
}

/**
 * Another owner signing in mid-flow (prompt=login, or a different person at
 * the same browser) ends the previous owner's session, and the flow goes on
 * as the new owner. Left alone, the engine would instead ask to confirm a
 * logout at an end-session endpoint this server does not have.
 */
async function endOtherOwnersSession(db: Knex, details: InteractionDetails, accountId: string): Promise<void> {
  const previous = details.session;
  if (!previous?.accountId || previous.accountId === accountId) return;
  if (previous.uid) await endEngineSessionByUid(db, previous.uid);
  delete details.session;
  await details.save(details.exp - Math.floor(Date.now() / 1000));
}
