import Router from '@koa/router';
import type { Context, Next } from 'koa';
import type { Knex } from 'knex';
import type { Settings } from '../../config/settings.ts';
import type { PasswordLogin } from '../../accounts/password-login.ts';
import { showLoginForm } from '../login-form.ts';
import { createApp, findApp, listAppsOfAccount, type App } from '../../apps/apps.ts';
import { countLiveAuthorizationsByApp, findLiveAuthorization, listConnectedIntegrations } from '../../authorizations/authorizations.ts';
import { revokeGrant } from '../../oauth/storage/grant-revocation.ts';
import { countLiveKeysByApp, createApiKey, listAppKeys, revokeApiKey } from '../../credentials/api-keys.ts';
import type { SecretBox } from '../../keys/secret-box.ts';
import { permissionCatalog, permissionsOfLevel } from '../../permissions/catalog.ts';
import type { CsrfGuard } from '../../http/csrf.ts';
import { ownerOf, type OwnerSessions } from '../owner-sessions.ts';
import { renderPage } from '../../http/render.ts';
import { PageProblem } from '../../http/problems.ts';
import { formLines, formList, formText, submitForm, utcFromDatetimeLocal } from '../../http/forms.ts';

export interface DashboardDependencies {
  db: Knex;
  settings: Settings;
  login: PasswordLogin;
  csrf: CsrfGuard;
  sessions: OwnerSessions;
  box: SecretBox;
}

const appLevelCatalog = permissionCatalog.filter((permission) => permissionsOfLevel('app').includes(permission.name));

/** The key form's fields as its labels name them. */
const keyFormLabels = { displayName: 'name', permissions: 'permissions', expiresAt: 'expiry', allowedIps: 'allowed IP ranges' };

/**
 * The owner's dashboard: log in and out, the apps, and per app its connected
 * integrations (Remove) and API keys (Create, shown once; Revoke).
 */
export function dashboardRouter(deps: DashboardDependencies): Router {
  const { db, csrf, sessions } = deps;
  const router = new Router();
  const signedIn = sessions.requireOwner();

  const requireCsrfToken = csrf.requireToken();

  /** Loads the owner's app named in the path; another owner's app is simply not found. */
  async function ownApp(ctx: Context, next: Next): Promise<void> {
    const app = await findApp(db, ctx.params.appId as string);
    if (!app || app.account_id !== ownerOf(ctx).id) {
      throw new PageProblem(404, 'App not found', 'There is no such app in your account.');
    }
    ctx.state.app = app;
    return next();
  }

  const notConnected = () => new PageProblem(404, 'Not found', 'There is no such integration or key on this app; it may have been removed already.');

  const session = (ctx: Context) => ({ email: ownerOf(ctx).email, csrfToken: csrf.tokenFor(ctx) });


  async function showApp(ctx: Context, status: number, extra: { createdKey?: { id: string; secret: string }; notice?: string; error?: string } = {}) {
    const app = ctx.state.app as App;
    const integrations = await listConnectedIntegrations(db, app.id);
    const keys = await listAppKeys(db, app.id);
    renderPage(ctx, status, 'appPage', {
      session: session(ctx),
      app: { id: app.id, name: app.display_name },
      integrations: integrations.map((row) => ({
        authorizationId: row.id,
        partnerName: row.partner_name,
        logoUrl: row.partner_logo_url,
        permissions: row.permissions,
        approvedAt: row.created_at,
        updatedAt: row.updated_at,
        lastUsedAt: row.last_used_at,
      })),
      keys: keys.map((key) => ({
        id: key.id,
        name: key.display_name,
        permissions: key.permissions,
        expiresAt: key.expires_at,
        allowedIps: key.allowed_ips,
        lastUsedAt: key.last_used_at,
      })),
      permissions: appLevelCatalog,
      ...extra,
    });
  }

  router.get('/', (ctx) => {
    ctx.status = 303;
    ctx.redirect('/dashboard');
  });

  router.get('/login', async (ctx) => {
    if (await sessions.owner(ctx)) {
      ctx.status = 303;
      return ctx.redirect('/dashboard');
    }
    showLoginForm(ctx, csrf, { action: '/login' });
  });

  router.post('/login', requireCsrfToken, async (ctx) => {
    const attempt = await deps.login.attempt(ctx.request.body as Record<string, unknown>, ctx.ip);
    if (attempt.outcome !== 'signed-in') return showLoginForm(ctx, csrf, { action: '/login' }, attempt);
    await sessions.start(ctx, attempt.account.id);
    ctx.status = 303;
    ctx.redirect('/dashboard');
  });

  router.post('/logout', requireCsrfToken, async (ctx) => {
    await sessions.end(ctx);
    ctx.status = 303;
    ctx.redirect('/login');
  });

  async function showDashboard(ctx: Context, status: number, error?: string): Promise<void> {
    const owner = ownerOf(ctx);
    const apps = await listAppsOfAccount(db, owner.id);
    const appIds = apps.map((app) => app.id);
    const [integrations, keys] = [await countLiveAuthorizationsByApp(db, appIds), await countLiveKeysByApp(db, appIds)];
    renderPage(ctx, status, 'dashboardPage', {
      session: session(ctx),
      error,
      apps: apps.map((app) => ({ id: app.id, name: app.display_name, integrations: integrations.get(app.id) ?? 0, keys: keys.get(app.id) ?? 0 })),
    });
  }

  router.get('/dashboard', signedIn, (ctx) => showDashboard(ctx, 200));

  router.post('/dashboard/apps', signedIn, requireCsrfToken, async (ctx) => {
    const displayName = formText((ctx.request.body as Record<string, unknown>).name);
    await submitForm(
      { displayName: 'name' },
      async () => {
        const app = await createApp(db, ownerOf(ctx).id, { displayName });
        ctx.status = 303;
        ctx.redirect(`/dashboard/apps/${app.id}`);
      },
      (problems) => showDashboard(ctx, 400, `The app was not created: ${problems}`),
    );
  });

  router.get('/dashboard/apps/:appId', signedIn, ownApp, async (ctx) => {
    const notices: Record<string, string> = { removed: 'The integration was removed. Its tokens no longer work.', revoked: 'The key was revoked.' };
    await showApp(ctx, 200, { notice: notices[String(ctx.query.done)] });
  });

  router.post('/dashboard/apps/:appId/integrations/:authorizationId/remove', signedIn, requireCsrfToken, ownApp, async (ctx) => {
    const app = ctx.state.app as App;
    const authorization = await findLiveAuthorization(db, ctx.params.authorizationId as string, app.id);
    if (!authorization) throw notConnected();
    await revokeGrant(db, authorization.grant_id);
    ctx.status = 303;
    ctx.redirect(`/dashboard/apps/${app.id}?done=removed`);
  });

  router.post('/dashboard/apps/:appId/keys', signedIn, requireCsrfToken, ownApp, async (ctx) => {
    const app = ctx.state.app as App;
    const body = ctx.request.body as Record<string, unknown>;
    const expires = formText(body.expiresAt);
    await submitForm(
      keyFormLabels,
      async () => {
        const { key, secret } = await createApiKey(db, deps.box, { type: 'app', appId: app.id, accountId: app.account_id }, {
          displayName: formText(body.name),
          permissions: formList(body.permissions),
          ...(expires ? { expiresAt: utcFromDatetimeLocal(expires) } : {}),
          allowedIps: formLines(body.allowedIps),
        });
        await showApp(ctx, 201, { createdKey: { id: key.id, secret } });
      },
      (problems) => showApp(ctx, 400, { error: `The key was not created: ${problems}` }),
    );
  });

  router.post('/dashboard/apps/:appId/keys/:keyId/revoke', signedIn, requireCsrfToken, ownApp, async (ctx) => {
    const app = ctx.state.app as App;
    if (!(await revokeApiKey(db, ctx.params.keyId as string, app.id))) throw notConnected();
    ctx.status = 303;
    ctx.redirect(`/dashboard/apps/${app.id}?done=revoked`);
  });

  return router;
}
