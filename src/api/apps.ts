import type Router from '@koa/router';
import type { Context } from 'koa';
import { createApp, pageAppsOfAccount, updateApp, type AppChanges, type AppInput } from '../apps/apps.ts';
import { ForbiddenProblem } from '../http/problems.ts';
import { deleteAppWithItsGrants } from '../oauth/storage/grant-revocation.ts';
import { accountLevel, appOf, appOrAccount, callerOf, type Guard } from './access.ts';
import type { ApiDependencies } from './dependencies.ts';
import { appListQuery, pageNavigation } from './pagination.ts';
import { requestOrigin } from '../http/origin.ts';
import { actorOf } from './actors.ts';
import { appAnswer, appListAnswer, emptyAnswer, presentApp } from './presenters.ts';
import type { z } from 'zod';

/** /v2/apps: an account's apps, page by page; one app read, changed or deleted. */
export function appRoutes(router: Router, deps: ApiDependencies, guard: Guard): void {
  router.get('/apps', guard(accountLevel, ['app:read', 'app:manage']), listApps(deps));
  router.post('/apps', guard(accountLevel, ['app:manage']), addApp(deps));
  router.get('/apps/:appId', guard(appOrAccount, ['app:read', 'app:manage']), showApp);
  router.patch('/apps/:appId', guard(appOrAccount, ['app:manage']), changeApp(deps));
  router.delete('/apps/:appId', guard(appOrAccount, ['app:manage']), deleteApp(deps));
}

function listApps({ db, issuer }: ApiDependencies) {
  return async (ctx: Context): Promise<void> => {
    const query = appListQuery.parse(ctx.query);
    const caller = callerOf(ctx);
    const serviceAccountId = query['filter[serviceAccountId]'];
    if (serviceAccountId !== undefined && serviceAccountId !== caller.serviceAccountId) throw new ForbiddenProblem('other_service_account');
    const page = await pageAppsOfAccount(db, caller.accountId, {
      after: query['page[after]'],
      before: query['page[before]'],
      size: query['page[size]'],
    });
    ctx.body = { apps: page.apps.map(presentApp), ...pageNavigation({ items: page.apps, hasMore: page.hasMore }, query, `${issuer}/v2/apps`) } satisfies z.output<typeof appListAnswer>;
  };
}

function addApp({ db }: ApiDependencies) {
  return async (ctx: Context): Promise<void> => {
    const app = await createApp(db, callerOf(ctx).accountId, ctx.request.body as AppInput);
    ctx.status = 201;
    ctx.body = { app: presentApp(app) } satisfies z.output<typeof appAnswer>;
  };
}

function showApp(ctx: Context): void {
  ctx.body = { app: presentApp(appOf(ctx)) } satisfies z.output<typeof appAnswer>;
}

function changeApp({ db }: ApiDependencies) {
  return async (ctx: Context): Promise<void> => {
    ctx.body = { app: presentApp(await updateApp(db, appOf(ctx), ctx.request.body as AppChanges)) } satisfies z.output<typeof appAnswer>;
  };
}

function deleteApp({ db }: ApiDependencies) {
  return async (ctx: Context): Promise<void> => {
    await deleteAppWithItsGrants(db, appOf(ctx).id, { actor: actorOf(callerOf(ctx)), origin: requestOrigin(ctx) });
    ctx.body = {} satisfies z.output<typeof emptyAnswer>;
  };
}
