import type { Context } from 'koa';
import { findLiveAuthorization, listConnectedIntegrations, moreAccessAsked, type ConnectedIntegration } from '../../authorizations/authorizations.ts';
import { answerMoreAccess, narrowAuthorization } from '../../oauth/approvals.ts';
import { platformApiResource } from '../../oauth/provider.ts';
import { describePermission } from '../../permissions/catalog.ts';
import { createApiKey, findAppKey, grantableToKey, listAppKeys, revokeApiKey } from '../../credentials/api-keys.ts';
import { displayRange } from '../../credentials/ip-ranges.ts';
import { formList, formLines, formText, submitForm, utcFromDatetimeLocal, type FormProblems } from '../../http/forms.ts';
import { PageProblem } from '../../http/problems.ts';
import { renderPage } from '../../http/render.ts';
import { revokeGrant } from '../../oauth/storage/grant-revocation.ts';
import { permissionCatalog } from '../../permissions/catalog.ts';
import { ownerOf, pageSession } from '../owner-sessions.ts';
import { requestOrigin } from '../../http/origin.ts';
import { pageApp, type DashboardDependencies } from './dashboard.ts';

const appKeyCatalog = permissionCatalog.filter((permission) => grantableToKey('app').includes(permission.name));

/** The key form's fields as its labels name them. */
const keyFormLabels = { displayName: 'name', permissions: 'permissions', expiresAt: 'expiry', allowedIps: 'allowed IP ranges' };

const notConnected = () => new PageProblem(404, 'Not found', 'There is no such integration or key on this app; it may have been removed already.');

const appPath = (appId: string) => `/dashboard/apps/${appId}`;

type KeyForm = { values: Record<string, string>; permissions: string[]; errors: { fields: Record<string, string>; general: string[] } };

/** /dashboard/apps/{appId}: what a form just did (once), the connected integrations and API keys, and the form to create a key. */
export function showApp({ db, csrf, flashes }: DashboardDependencies) {
  return async (ctx: Context, status = 200, keyForm?: KeyForm): Promise<void> => {
    const app = pageApp(ctx);
    const [integrations, keys] = [await listConnectedIntegrations(db, app.id), await listAppKeys(db, app.id)];
    renderPage(ctx, status, 'appPage', {
      session: pageSession(ctx, csrf),
      app: { id: app.id, name: app.display_name },
      flashes: await flashes.take(ctx, appPath(app.id)),
      integrations: integrations.map((row) => ({
        authorizationId: row.id,
        partnerName: row.partner_name,
        logoUrl: row.partner_logo_url,
        permissions: row.permissions,
        approvedAt: row.created_at,
        updatedAt: row.updated_at,
        lastUsedAt: row.last_used_at,
        suspended: row.partner_suspended_at !== null,
        moreAccess: moreAccessOf(row),
      })),
      keys: keys.map((key) => ({
        id: key.id,
        name: key.display_name,
        permissions: key.permissions,
        expiresAt: key.expires_at,
        allowedIps: key.allowed_ips.map(displayRange),
        lastUsedAt: key.last_used_at,
      })),
      permissions: appKeyCatalog,
      keyForm,
    });
  };
}

/** What the partner asks for beyond what the owner allowed, with the catalog's words for it. */
function moreAccessOf(row: ConnectedIntegration) {
  const added = moreAccessAsked(row);
  if (!added.length) return undefined;
  return {
    authorizationId: row.id,
    partnerName: row.partner_name,
    added: added.map((name) => ({ name, description: describePermission(name)?.description ?? name })),
    note: row.partner_access_note,
  };
}

/** POST …/integrations/{id}/more-access: the owner approves or declines what the partner asks for now. */
export function answerMoreAccessRequest({ db, settings, flashes }: DashboardDependencies) {
  return async (ctx: Context): Promise<void> => {
    const app = pageApp(ctx);
    const decision = (ctx.request.body as Record<string, unknown>).decision;
    if (decision !== 'approve' && decision !== 'decline') throw new PageProblem(400, 'Choose Approve or Decline', 'The answer to the request was missing.');
    const authorization = await findLiveAuthorization(db, ctx.params.authorizationId as string, app.id);
    if (!authorization) throw notConnected();
    const by = { actor: { type: 'owner' as const, id: ownerOf(ctx).id }, origin: requestOrigin(ctx), resource: platformApiResource(settings) };
    const outcome = await answerMoreAccess(db, authorization.id, decision, by);
    const notice = { approved: 'More access approved: its tokens have it from now on.', declined: 'More access declined: nothing changed.', nothing: 'There was nothing new to answer.' }[outcome];
    await flashes.redirect(ctx, appPath(app.id), { notice });
  };
}

/** GET …/integrations/{id}/access: the permissions the integration holds on this app, to keep fewer of them. */
export function showAccess({ db, csrf }: DashboardDependencies) {
  return async (ctx: Context, status = 200, error?: string): Promise<void> => {
    const app = pageApp(ctx);
    const row = (await listConnectedIntegrations(db, app.id)).find((candidate) => candidate.id === ctx.params.authorizationId);
    if (!row) throw notConnected();
    renderPage(ctx, status, 'accessPage', {
      session: pageSession(ctx, csrf),
      app: { id: app.id, name: app.display_name },
      integration: { authorizationId: row.id, partnerName: row.partner_name },
      permissions: row.permissions.map((name) => ({ name, description: describePermission(name)?.description ?? name })),
      error,
    });
  };
}

/** POST …/integrations/{id}/access: keep only the permissions still checked. */
export function narrowAccess(deps: DashboardDependencies) {
  const show = showAccess(deps);
  return async (ctx: Context): Promise<void> => {
    const app = pageApp(ctx);
    const authorization = await findLiveAuthorization(deps.db, ctx.params.authorizationId as string, app.id);
    if (!authorization) throw notConnected();
    const keep = formList((ctx.request.body as Record<string, unknown>).permissions);
    const by = { actor: { type: 'owner' as const, id: ownerOf(ctx).id }, origin: requestOrigin(ctx), resource: platformApiResource(deps.settings) };
    const kept = await narrowAuthorization(deps.db, authorization.id, keep, by);
    if (!kept) return show(ctx, 400, 'Nothing was changed: keep at least one of the permissions it holds (to take every one away, remove the integration).');
    await deps.flashes.redirect(ctx, appPath(app.id), { notice: `Access changed: it now holds ${kept.join(', ')}.` });
  };
}

/** Remove: the authorization and every token issued under it end at once; the app's page then says whose access ended. */
export function removeIntegration({ db, flashes }: DashboardDependencies) {
  return async (ctx: Context): Promise<void> => {
    const app = pageApp(ctx);
    const authorization = await findLiveAuthorization(db, ctx.params.authorizationId as string, app.id);
    if (!authorization) throw notConnected();
    const partnerName = (await listConnectedIntegrations(db, app.id)).find((row) => row.id === authorization.id)?.partner_name ?? 'The integration';
    await revokeGrant(db, authorization.grant_id, { cause: 'owner', actor: { type: 'owner', id: ownerOf(ctx).id }, origin: requestOrigin(ctx) });
    await flashes.redirect(ctx, appPath(app.id), { notice: `${partnerName} was removed from ${app.display_name}. Its tokens no longer work.` });
  };
}

/** Create a key, then Post/Redirect/Get: the app's page shows the secret once; a reload creates nothing. */
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
        await deps.flashes.redirect(ctx, appPath(app.id), {
          notice: `Key "${key.display_name}" created.`,
          secrets: [{ label: 'Key id', value: key.id }, { label: 'Secret', value: secret }],
        });
      },
      (problems: FormProblems) => showAgain(ctx, 400, {
        values: { name: formText(body.name), expiresAt: expires, allowedIps: typeof body.allowedIps === 'string' ? body.allowedIps : '' },
        permissions: formList(body.permissions),
        errors: problems,
      }),
    );
  };
}

/** Revoke a key; the app's page then names the key that stopped working. */
export function revokeKey({ db, keyEvents, flashes }: DashboardDependencies) {
  return async (ctx: Context): Promise<void> => {
    const app = pageApp(ctx);
    const keyId = ctx.params.keyId as string;
    const key = await findAppKey(db, app.id, keyId);
    if (!key || !(await revokeApiKey(db, keyId, app.id, { actor: { type: 'owner', id: ownerOf(ctx).id }, origin: requestOrigin(ctx), appName: app.display_name }, keyEvents))) {
      throw notConnected();
    }
    await flashes.redirect(ctx, appPath(app.id), { notice: `Key "${key.display_name}" (${key.id}) was revoked. It no longer works.` });
  };
}

/** GET …/integrations/{id}/remove: what Remove will do, before it is done. */
export function confirmRemoval({ db, csrf }: DashboardDependencies) {
  return async (ctx: Context): Promise<void> => {
    const app = pageApp(ctx);
    const row = (await listConnectedIntegrations(db, app.id)).find((candidate) => candidate.id === ctx.params.authorizationId);
    if (!row) throw notConnected();
    renderPage(ctx, 200, 'confirmPage', {
      session: pageSession(ctx, csrf),
      question: `Remove ${row.partner_name} from ${app.display_name}?`,
      consequences: [
        `${row.partner_name} will lose access to ${app.display_name} now: every token it holds for this app stops working.`,
        `To connect it again, you would start from ${row.partner_name} and allow it again.`,
      ],
      action: `${appPath(app.id)}/integrations/${row.id}/remove`,
      confirmLabel: `Remove ${row.partner_name}`,
      cancelHref: appPath(app.id),
    });
  };
}

/** GET …/keys/{id}/revoke: what Revoke will do, before it is done. */
export function confirmRevocation({ db, csrf }: DashboardDependencies) {
  return async (ctx: Context): Promise<void> => {
    const app = pageApp(ctx);
    const key = await findAppKey(db, app.id, ctx.params.keyId as string);
    if (!key) throw notConnected();
    renderPage(ctx, 200, 'confirmPage', {
      session: pageSession(ctx, csrf),
      question: `Revoke the key "${key.display_name}"?`,
      consequences: [`The key "${key.display_name}" (${key.id}) will stop working now, for every request made with it to ${app.display_name}.`],
      action: `${appPath(app.id)}/keys/${key.id}/revoke`,
      confirmLabel: `Revoke "${key.display_name}"`,
      cancelHref: appPath(app.id),
    });
  };
}
