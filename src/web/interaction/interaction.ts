import type { Context, Next } from 'koa';
import type { Knex } from 'knex';
import { errors, type InteractionResults, type Provider } from 'oidc-provider';
import type { Settings } from '../../config/settings.ts';
import { findAccount, type Account } from '../../accounts/accounts.ts';
import type { PasswordLogin } from '../../accounts/password-login.ts';
import { listAppsOfAccount, type App } from '../../apps/apps.ts';
import { findPartner, type PublicPartner } from '../../partners/partners.ts';
import type { CsrfGuard } from '../../http/csrf.ts';
import { PageProblem, type PartnerReturn } from '../../http/problems.ts';
import { seeOther } from '../../http/see-other.ts';
import type { OwnerSessions } from '../owner-sessions.ts';

export interface InteractionDependencies {
  db: Knex;
  settings: Settings;
  provider: Provider;
  login: PasswordLogin;
  csrf: CsrfGuard;
  sessions: OwnerSessions;
}

export type InteractionDetails = Awaited<ReturnType<Provider['interactionDetails']>>;

/** What every step finds in ctx.state.interaction once the interaction is loaded. */
interface InteractionState {
  details: InteractionDetails;
  partner: PublicPartner;
}

export const interactionPaths = {
  page: (uid: string) => `/interaction/${uid}`,
  login: (uid: string) => `/interaction/${uid}/login`,
  consent: (uid: string) => `/interaction/${uid}/consent`,
  abort: (uid: string) => `/interaction/${uid}/abort`,
  notYou: (uid: string) => `/interaction/${uid}/not-you`,
};

const expired = () =>
  new PageProblem(400, 'This sign-in has ended', 'This sign-in was already completed, or it expired before it was. Go back to the site you came from and start again from there.');

/** The engine's interaction for this browser, which must be the one in the path, and the partner asking. */
export function loadInteraction({ db, provider }: InteractionDependencies) {
  return async (ctx: Context, next: Next): Promise<void> => {
    let details: InteractionDetails;
    try {
      details = await provider.interactionDetails(ctx.req, ctx.res);
    } catch (error) {
      if (!(error instanceof errors.SessionNotFound)) throw error;
      throw expired();
    }
    const partner = details.uid === ctx.params.uid ? await findPartner(db, String(details.params.client_id)) : undefined;
    if (!partner) throw expired();
    ctx.state.interaction = { details, partner } satisfies InteractionState;
    return next();
  };
}

export function interactionOf(ctx: Context): InteractionState {
  return ctx.state.interaction as InteractionState;
}

/**
 * A form posted for a step the engine is no longer at (a second tab, the
 * back button) changes nothing; the page offers to continue where the
 * request is, or to return to the partner.
 */
export function requirePrompt(name: 'login' | 'consent', csrf: CsrfGuard) {
  return async (ctx: Context, next: Next): Promise<void> => {
    const { details, partner } = interactionOf(ctx);
    if (details.prompt.name !== name) {
      throw new PageProblem(
        400,
        'This step is already done',
        `This page was already submitted, perhaps in another tab. Go back and reload the page to continue, or return to ${partner.name}.`,
        undefined,
        {},
        returnToPartner(ctx, csrf),
      );
    }
    return next();
  };
}

/** The "Return to <partner>" form of an error page within a live request: it ends the request with access_denied. */
export function returnToPartner(ctx: Context, csrf: CsrfGuard): PartnerReturn {
  const { details, partner } = interactionOf(ctx);
  return { partnerName: partner.name, action: interactionPaths.abort(details.uid), csrfToken: csrf.tokenFor(ctx) };
}

/**
 * Hands a step's result to the engine, which answers with where the browser
 * goes next. Consent carries the login of the same authorization along: with
 * prompt=login the engine asks again for any result that lacks it.
 */
export async function finishStep(provider: Provider, ctx: Context, result: InteractionResults): Promise<void> {
  const target = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: 'consent' in result });
  seeOther(ctx, target);
}

export function requestedPermissions(details: InteractionDetails): string[] {
  return String(details.params.scope ?? '').split(' ').filter(Boolean);
}

/** Who the pages after login say is signed in, with the "Not you?" form that starts over. */
export function signedInAs(ctx: Context, csrf: CsrfGuard, owner: Account) {
  return { email: owner.email, notYouAction: interactionPaths.notYou(interactionOf(ctx).details.uid), csrfToken: csrf.tokenFor(ctx) };
}

/**
 * POST …/not-you: someone else is signed in in this browser. Their session
 * ends everywhere (the engine's and the dashboard's), and the same
 * authorization request starts again, at the login page.
 */
export function startOverAsSomeoneElse({ sessions }: InteractionDependencies) {
  return async (ctx: Context): Promise<void> => {
    const { params } = interactionOf(ctx).details;
    await sessions.end(ctx);
    const query = Object.entries(params).filter((entry): entry is [string, string] => typeof entry[1] === 'string');
    seeOther(ctx, `/oauth/authorize?${new URLSearchParams(query)}`);
  };
}

/** The owner signed in to the engine's session (the login step is done). */
export async function sessionOwner(db: Knex, ctx: Context): Promise<Account> {
  const accountId = interactionOf(ctx).details.session?.accountId;
  const account = accountId ? await findAccount(db, accountId) : undefined;
  if (!account) throw new errors.SessionNotFound('the session has no account');
  return account;
}

/** An integration not yet approved by an operator can only be tried on its own account's apps. */
export function usableBy(owner: Account, partner: PublicPartner): boolean {
  return partner.approved || partner.account_id === owner.id;
}

/** The apps an owner may add this partner to. */
export async function eligibleApps(db: Knex, owner: Account, partner: PublicPartner): Promise<App[]> {
  return usableBy(owner, partner) ? listAppsOfAccount(db, owner.id) : [];
}
