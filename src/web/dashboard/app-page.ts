import type { Context } from 'koa';
import { findLiveAuthorization, listConnectedIntegrations } from '../../authorizations/authorizations.ts';
import { createApiKey, grantableToKey, listAppKeys, revokeApiKey } from '../../credentials/api-keys.ts';
import { formLines, formList, formText, submitForm, utcFromDatetimeLocal } from '../../http/forms.ts';
import { PageProblem } from '../../http/problems.ts';
import { renderPage } from '../../http/render.ts';
import { seeOther } from '../../http/see-other.ts';
import { revokeGrant } from '../../oauth/storage/grant-revocation.ts';
import { permissionCatalog } from '../../permissions/catalog.ts';
import { ownerOf, pageSession } from '../owner-sessions.ts';
import { requestOrigin } from '../../http/origin.ts';
import { pageApp, type DashboardDependencies } from './dashboard.ts';

const appKeyCatalog = permissionCatalog.filter((permission) => grantableToKey('app').includes(permission.name));

/** The key form's fields as its labels name them. */
const keyFormLabels = { displayName: 'name', permissions: 'permissions', expiresAt: 'expiry', allowedIps: 'allowed IP ranges' };

const notices: Record<string, string> = { removed: 'The integration was removed. Its tokens no longer work.', revoked: 'The key was revoked.' };

const notConnected = () => new PageProblem(404, 'Not found', 'There is no such integration or key on this app; it may have been removed already.');

type AppPageExtra = { createdKey?: { id: string; secret: string }; notice?: string | undefined; error?: string };

/** /dashboard/apps/{appId}: the app's connected integrations and API keys, and the form to create a key. */
export function showApp({ db, csrf }: DashboardDependencies) {
  return async (ctx: Context, status = 200, extra: AppPageExtra = { notice: notices[String(ctx.query.done)] }): Promise<void> => {
    const app = pageApp(ctx);
    const [integrations, keys] = [await listConnectedIntegrations(db, app.id), await listAppKeys(db, app.id)];
    renderPage(ctx, status, 'appPage', {
      session: pageSession(ctx, csrf),
      app: { id: app.id, name: app.display_name },
      integrations: integrations.map((row) => ({
        authorizationId: row.id,
        partnerName: row.partner_name,
        logoUrl: row.partner_logo_url,
        permissions: row.permissions,
        approvedAt: row.created_at,
        updatedAt: row.updated_at,
        lastUsedAt: row.last_used_at,
        suspended: row.partner_suspended_at !== null,
      })),
      keys: keys.map((key) => ({
        id: key.id,
        name: key.display_name,
        permissions: key.permissions,
        expiresAt: key.expires_at,
        allowedIps: key.allowed_ips,
        lastUsedAt: key.last_used_at,
      })),
      permissions: appKeyCatalog,
      ...extra,
    });
  };
}

/** Remove: the authorization and every token issued under it end at once. */
export function removeIntegration({ db }: DashboardDependencies) {
  return async (ctx: Context): Promise<void> => {
    const app = pageApp(ctx);
    const authorization = await findLiveAuthorization(db, ctx.params.authorizationId as string, app.id);
    if (!authorization) throw notConnected();
    await revokeGrant(db, authorization.grant_id, { cause: 'owner', actor: { type: 'owner', id: ownerOf(ctx).id }, origin: requestOrigin(ctx) });
    seeOther(ctx, `/dashboard/apps/${app.id}?done=removed`);
  };
}

/** Create a key: the page again, with the secret shown this once, or with what is wrong. */
export function addKey(deps: DashboardDependencies) {
  const showAgain = showApp(deps);
  return async (ctx: Context): Promise<void> => {
    const app = pageApp(ctx);
    const body = ctx.request.body as Record<string, unknown>;
    const expires = formText(body.expiresAt);
    await submitForm(
      keyFormLabels,
      async () => {
        const { key, secret } = await createApiKey(deps.db, deps.box, { type: 'app', appId: app.id, accountId: app.account_id }, {
          displayName: formText(body.name),
          permissions: formList(body.permissions),
          ...(expires ? { expiresAt: utcFromDatetimeLocal(expires) } : {}),
          allowedIps: formLines(body.allowedIps),
        }, { events: deps.keyEvents, audit: { actor: { type: 'owner', id: ownerOf(ctx).id }, origin: requestOrigin(ctx), appName: app.display_name } });
        await showAgain(ctx, 201, { createdKey: { id: key.id, secret } });
      },
      (problems) => showAgain(ctx, 400, { error: `The key was not created: ${problems}` }),
    );
  };
}

export function revokeKey({ db, keyEvents }: DashboardDependencies) {
  return async (ctx: Context): Promise<void> => {
    const app = pageApp(ctx);
    if (!(await revokeApiKey(db, ctx.params.keyId as string, app.id, { actor: { type: 'owner', id: ownerOf(ctx).id }, origin: requestOrigin(ctx), appName: app.display_name }, keyEvents))) throw notConnected();
    seeOther(ctx, `/dashboard/apps/${app.id}?done=revoked`);
  };
}
