import Router from '@koa/router';
import type { Knex } from 'knex';
import { z } from 'zod';
import { createApp, type AppChanges, type AppInput, findApp, pageAppsOfAccount, updateApp } from '../apps/apps.ts';
import { createApiKey, type ApiKeyInput, findAppKey, listAppKeys, revokeApiKey } from '../credentials/api-keys.ts';
import type { CallerResolver } from '../credentials/resolve.ts';
import type { SecretBox } from '../keys/secret-box.ts';
import { isKnownPermission } from '../permissions/catalog.ts';
import { ApiProblem, ForbiddenProblem } from '../http/problems.ts';
import { appOf, authorize, callerOf, holdsAny } from './access.ts';
import { presentApp, presentKey } from './presenters.ts';
import { deleteAppWithItsGrants } from '../oauth/storage/grant-revocation.ts';

export interface ApiDependencies {
  db: Knex;
  box: SecretBox;
  resolver: CallerResolver;
  issuer: string;
}

const cursor = z.string().regex(/^[0-9a-f]{24}$/, 'must be an app id');

const appListQuery = z
  .object({
    'page[after]': cursor.optional(),
    'page[before]': cursor.optional(),
    'page[size]': z.coerce.number().int().min(1).max(100).default(25),
    'filter[serviceAccountId]': z.string().optional(),
  })
  .refine((query) => !(query['page[after]'] && query['page[before]']), 'Only one of page[after] or page[before] can be provided');

/**
 * The platform's v2 API for apps and their keys (the Sunshine Conversations
 * v2 contract). Every route is: authorize (who, level, permission, which
 * app), validate the input, do one thing, present the result.
 */
export function apiRouter(deps: ApiDependencies): Router {
  const { db, box, resolver } = deps;
  const router = new Router({ prefix: '/v2' });
  const access = (levels: ('app' | 'account' | 'appUser')[], permissions: string[]) => authorize(resolver, db, { levels, permissions });
  const accountLevel = ['account'] as ('account')[];
  const appOrAccount = ['app', 'account'] as ('app' | 'account')[];

  // Answers about credentials and secrets are never to be stored by a cache.
  router.use((ctx, next) => {
    ctx.set('Cache-Control', 'no-store');
    return next();
  });

  router.get('/apps', access(accountLevel, ['app:read', 'app:manage']), async (ctx) => {
    const query = appListQuery.parse(ctx.query);
    const caller = callerOf(ctx);
    const serviceAccountId = query['filter[serviceAccountId]'];
    if (serviceAccountId !== undefined && serviceAccountId !== caller.serviceAccountId) throw new ForbiddenProblem();
    const page = await pageAppsOfAccount(db, caller.accountId, {
      after: query['page[after]'],
      before: query['page[before]'],
      size: query['page[size]'],
    });
    const first = page.apps[0]?.id;
    const last = page.apps.at(-1)?.id;
    const link = (direction: 'after' | 'before', id: string) =>
      `${deps.issuer}/v2/apps?${new URLSearchParams({ [`page[${direction}]`]: id, 'page[size]': String(query['page[size]']) })}`;
    const backwards = query['page[before]'] !== undefined;
    const hasNext = backwards ? last !== undefined : page.hasMore;
    const hasPrev = backwards ? page.hasMore : query['page[after]'] !== undefined && first !== undefined;
    ctx.body = {
      apps: page.apps.map(presentApp),
      meta: { hasMore: page.hasMore, ...(last ? { afterCursor: last } : {}), ...(first ? { beforeCursor: first } : {}) },
      links: { ...(hasNext && last ? { next: link('after', last) } : {}), ...(hasPrev && first ? { prev: link('before', first) } : {}) },
    };
  });

  router.post('/apps', access(accountLevel, ['app:manage']), async (ctx) => {
    const app = await createApp(db, callerOf(ctx).accountId, ctx.request.body as AppInput);
    ctx.status = 201;
    ctx.body = { app: presentApp(app) };
  });

  router.get('/apps/:appId', access(appOrAccount, ['app:read', 'app:manage']), (ctx) => {
    ctx.body = { app: presentApp(appOf(ctx)) };
  });

  router.patch('/apps/:appId', access(appOrAccount, ['app:manage']), async (ctx) => {
    ctx.body = { app: presentApp(await updateApp(db, appOf(ctx), ctx.request.body as AppChanges)) };
  });

  router.delete('/apps/:appId', access(appOrAccount, ['app:manage']), async (ctx) => {
    await deleteAppWithItsGrants(db, appOf(ctx).id);
    ctx.body = {};
  });

  router.get('/apps/:appId/keys', access(appOrAccount, ['keys:manage']), async (ctx) => {
    ctx.body = { keys: (await listAppKeys(db, appOf(ctx).id)).map((key) => presentKey(key)) };
  });

  router.post('/apps/:appId/keys', access(appOrAccount, ['keys:manage']), async (ctx) => {
    const app = appOf(ctx);
    const owner = { type: 'app', appId: app.id, accountId: app.account_id } as const;
    const { key, secret } = await createApiKey(db, box, owner, ctx.request.body as ApiKeyInput, callerOf(ctx).permissions);
    ctx.status = 201;
    ctx.body = { key: presentKey(key, secret) };
  });

  router.get('/apps/:appId/keys/:keyId', access(appOrAccount, ['keys:manage']), async (ctx) => {
    const key = await findAppKey(db, appOf(ctx).id, ctx.params.keyId as string);
    if (!key) throw new ApiProblem(404, 'not_found', 'Resource not found');
    ctx.body = { key: presentKey(key) };
  });

  router.delete('/apps/:appId/keys/:keyId', access(appOrAccount, ['keys:manage']), async (ctx) => {
    if (!(await revokeApiKey(db, ctx.params.keyId as string, appOf(ctx).id))) throw new ApiProblem(404, 'not_found', 'Resource not found');
    ctx.body = {};
  });

  /**
   * Who the credentials belong to and, with ?appId=…&permission=…, whether
   * they may use that permission on that app (403 when not). The platform
   * API and browser SDKs use it to check a credential before acting.
   */
  router.get('/credentials/current', access(['app', 'account', 'appUser'], []), async (ctx) => {
    const caller = callerOf(ctx);
    const appId = typeof ctx.query.appId === 'string' ? ctx.query.appId : undefined;
    const permission = typeof ctx.query.permission === 'string' ? ctx.query.permission : undefined;
    if (permission !== undefined && !isKnownPermission(permission)) throw new ApiProblem(400, 'bad_request', 'Unknown permission');
    if (permission !== undefined && !holdsAny(caller, [permission])) throw new ForbiddenProblem();
    if (appId !== undefined) {
      const app = caller.level === 'account' || caller.appId === appId ? await findApp(db, appId) : undefined;
      if (!app || app.account_id !== caller.accountId) throw new ForbiddenProblem();
    }
    ctx.body = {
      credential: {
        type: caller.credential,
        level: caller.level,
        accountId: caller.accountId,
        ...(caller.appId ? { appId: caller.appId } : {}),
        ...(caller.user ?? {}),
        ...(caller.keyId ? { keyId: caller.keyId } : {}),
        ...(caller.clientId ? { clientId: caller.clientId } : {}),
        permissions: [...caller.permissions],
      },
    };
  });

  return router;
}
