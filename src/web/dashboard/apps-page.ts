import type { Context } from 'koa';
import { createApp, listAppsOfAccount } from '../../apps/apps.ts';
import { countLiveAuthorizationsByApp, listMoreAccessRequests } from '../../authorizations/authorizations.ts';
import { countLiveKeysByApp } from '../../credentials/api-keys.ts';
import { formText, submitForm, type FormProblems } from '../../http/forms.ts';
import { renderPage } from '../../http/render.ts';
import { seeOther } from '../../http/see-other.ts';
import { ownerOf, pageSession } from '../owner-sessions.ts';
import type { DashboardDependencies } from './dashboard.ts';

/** /dashboard: the owner's apps with how many integrations and keys each has, and a form to create one. */
export function showApps({ db, csrf }: DashboardDependencies) {
  return async (ctx: Context, status = 200, appForm?: { name: string; errors: FormProblems }): Promise<void> => {
    const apps = await listAppsOfAccount(db, ownerOf(ctx).id);
    const appIds = apps.map((app) => app.id);
    const [integrations, keys] = [await countLiveAuthorizationsByApp(db, appIds), await countLiveKeysByApp(db, appIds)];
    renderPage(ctx, status, 'dashboardPage', {
      session: pageSession(ctx, csrf),
      appForm,
      apps: apps.map((app) => ({ id: app.id, name: app.display_name, integrations: integrations.get(app.id) ?? 0, keys: keys.get(app.id) ?? 0 })),
      moreAccess: (await listMoreAccessRequests(db, ownerOf(ctx).id)).map((row) => ({ appId: row.app_id, appName: row.app_name, partnerName: row.partner_name })),
    });
  };
}

/** POST /dashboard/apps: on to the new app's page, or the list again saying what is wrong. */
export function addApp(deps: DashboardDependencies) {
  const showAgain = showApps(deps);
  return async (ctx: Context): Promise<void> => {
    const displayName = formText((ctx.request.body as Record<string, unknown>).name);
    await submitForm(
      { displayName: 'name' },
      async () => seeOther(ctx, `/dashboard/apps/${(await createApp(deps.db, ownerOf(ctx).id, { displayName })).id}`),
      (problems) => showAgain(ctx, 400, { name: displayName, errors: problems }),
    );
  };
}
