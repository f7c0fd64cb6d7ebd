import Router from '@koa/router';
import type { Context, Next } from 'koa';
import type { Knex } from 'knex';
import { errors, type InteractionResults, type Provider } from 'oidc-provider';
import type { Settings } from '../../config/settings.ts';
import { findAccount, type Account } from '../../accounts/accounts.ts';
import type { LoginAttempt, PasswordLogin } from '../../accounts/password-login.ts';
import { showLoginForm } from '../login-form.ts';
import { listAppsOfAccount, type App } from '../../apps/apps.ts';
import { recordApproval } from '../../oauth/approvals.ts';
import { findPartner, type PublicPartner } from '../../partners/partners.ts';
import { describePermission } from '../../permissions/catalog.ts';
import type { CsrfGuard } from '../../http/csrf.ts';
import { renderPage } from '../../http/render.ts';
import { PageProblem } from '../../http/problems.ts';
import { platformApiResource } from '../../oauth/provider.ts';

export interface InteractionDependencies {
  db: Knex;
  settings: Settings;
  provider: Provider;
  login: PasswordLogin;
  csrf: CsrfGuard;
}

type Details = Awaited<ReturnType<Provider['interactionDetails']>>;

interface InteractionState {
  details: Details;
  partner: PublicPartner;
}

const paths = {
  page: (uid: string) => `/interaction/${uid}`,
  login: (uid: string) => `/interaction/${uid}/login`,
  consent: (uid: string) => `/interaction/${uid}/consent`,
  abort: (uid: string) => `/interaction/${uid}/abort`,
};

/**
 * The pages between /oauth/authorize and the partner's redirect: log in,
 * choose an app, consent. Each handler is a short pipeline: load the
 * engine's interaction, check the form, do one step, hand the result back
 * to the engine, which redirects.
 */
export function interactionRouter(deps: InteractionDependencies): Router {
  const { db, provider, csrf } = deps;
  const router = new Router();

  const expired = () => new PageProblem(400, 'This sign-in has expired', 'Return to the site you came from and start again.');

  /** The engine's interaction for this browser, which must be the one in the path. */
  async function loadInteraction(ctx: Context, next: Next): Promise<void> {
    let details: Details;
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
  }

  const requireCsrfToken = csrf.requireToken();

  function requirePrompt(name: 'login' | 'consent') {
    return async (ctx: Context, next: Next): Promise<void> => {
      if (state(ctx).details.prompt.name !== name) {
        throw new PageProblem(400, 'This step is already done', 'Go back and reload the page.');
      }
      return next();
    };
  }

  async function finish(ctx: Context, result: InteractionResults): Promise<void> {
    const target = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: false });
    ctx.status = 303;
    ctx.redirect(target);
  }

  function showLogin(ctx: Context, failed?: Exclude<LoginAttempt, { outcome: 'signed-in' }>): void {
    const { details, partner } = state(ctx);
    showLoginForm(ctx, csrf, { action: paths.login(details.uid), partnerName: partner.name }, failed);
  }

  async function showStep(ctx: Context): Promise<void> {
    if (state(ctx).details.prompt.name === 'login') return showLogin(ctx);
    return showAppChoice(ctx);
  }

  async function showAppChoice(ctx: Context): Promise<void> {
    const { details, partner } = state(ctx);
    const owner = await sessionOwner(ctx);
    const apps = await eligibleApps(owner, partner);
    const base = { csrfToken: csrf.tokenFor(ctx), signedInAs: owner.email, partnerName: partner.name };
    if (apps.length === 0) {
      return renderPage(ctx, 200, 'noAppsPage', { ...base, abortAction: paths.abort(details.uid), pendingApproval: !usableBy(owner, partner) });
    }
    const chosen = apps.length === 1 ? apps[0] : apps.find((app) => app.id === ctx.query.app);
    if (!chosen) {
      return renderPage(ctx, 200, 'appPickerPage', {
        ...base,
        apps: apps.map((app) => ({ id: app.id, name: app.display_name })),
        action: paths.page(details.uid),
        abortAction: paths.abort(details.uid),
      });
    }
    return renderPage(ctx, 200, 'consentPage', {
      csrfToken: base.csrfToken,
      signedInAs: owner.email,
      partner: { name: partner.name, logoUrl: partner.logo_url, website: partner.website },
      app: { id: chosen.id, name: chosen.display_name },
      permissions: requestedPermissions(details).map((name) => ({ name, description: describePermission(name)?.description ?? name })),
      action: paths.consent(details.uid),
      changeAppHref: apps.length > 1 ? paths.page(details.uid) : undefined,
    });
  }

  async function logIn(ctx: Context): Promise<void> {
    const attempt = await deps.login.attempt(ctx.request.body as Record<string, unknown>, ctx.ip);
    if (attempt.outcome !== 'signed-in') return showLogin(ctx, attempt);
    return finish(ctx, { login: { accountId: attempt.account.id } });
  }

  async function decide(ctx: Context): Promise<void> {
    const body = ctx.request.body as Record<string, unknown>;
    if (body.decision === 'deny') {
      return finish(ctx, { error: 'access_denied', error_description: 'the app owner denied the request' });
    }
    const { details, partner } = state(ctx);
    const owner = await sessionOwner(ctx);
    const app = (await eligibleApps(owner, partner)).find((candidate) => candidate.id === body.app);
    if (body.decision !== 'allow' || !app) {
      throw new PageProblem(400, 'Choose an app', 'Go back and choose one of your apps.');
    }
    const grantId = await recordApproval(db, provider, {
      partnerId: partner.id,
      appId: app.id,
      accountId: owner.id,
      permissions: requestedPermissions(details),
      resource: platformApiResource(deps.settings),
    });
    return finish(ctx, { consent: { grantId } });
  }

  async function abort(ctx: Context): Promise<void> {
    return finish(ctx, { error: 'access_denied', error_description: 'the app owner cancelled the request' });
  }

  async function sessionOwner(ctx: Context): Promise<Account> {
    const accountId = state(ctx).details.session?.accountId;
    const account = accountId ? await findAccount(db, accountId) : undefined;
    if (!account) throw new errors.SessionNotFound('the session has no account');
    return account;
  }

  async function eligibleApps(owner: Account, partner: PublicPartner): Promise<App[]> {
    return usableBy(owner, partner) ? listAppsOfAccount(db, owner.id) : [];
  }

  router.get('/interaction/:uid', loadInteraction, showStep);
  router.post('/interaction/:uid/login', loadInteraction, requireCsrfToken, requirePrompt('login'), logIn);
  router.post('/interaction/:uid/consent', loadInteraction, requireCsrfToken, requirePrompt('consent'), decide);
  router.post('/interaction/:uid/abort', loadInteraction, requireCsrfToken, abort);
  return router;
}

/** An integration not yet approved by an operator can only be tried on its own account's apps. */
function usableBy(owner: Account, partner: PublicPartner): boolean {
  return partner.approved || partner.account_id === owner.id;
}

function state(ctx: Context): InteractionState {
  return ctx.state.interaction as InteractionState;
}

function requestedPermissions(details: Details): string[] {
  return String(details.params.scope ?? '').split(' ').filter(Boolean);
}
