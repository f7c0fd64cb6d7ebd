import Router from '@koa/router';
import type { Context } from 'koa';
import type { Knex } from 'knex';
import { z, ZodError } from 'zod';
import { appChanges, appFields, createApp, findApp, pageAppsOfAccount, updateApp } from '../apps/apps.ts';
import { apiKeyInput, createApiKey, findAppKey, listAppKeys, revokeApiKey } from '../credentials/api-keys.ts';
import type { Caller } from '../credentials/caller.ts';
import type { CallerResolver } from '../credentials/resolve.ts';
import type { SecretBox } from '../keys/secret-box.ts';
import { isKnownPermission, permissionsOfLevel } from '../permissions/catalog.ts';
import { apiError } from '../http/errors.ts';
import { appOf, authorize, callerOf, forbidden, holdsAny } from './access.ts';
import { presentApp, presentKey } from './presenters.ts';
import { deleteAppWithItsGrants } from '../oauth/storage/grant-revocation.ts';

export interface ApiDependencies {
  db: Knex;
  box: SecretBox;
  resolver: CallerResolver;
  issuer: string;
}

/** Parses with a schema or answers 400 with one error per problem; undefined when it answered. */
function parsed<T>(ctx: Context, schema: z.ZodType<T>, value: unknown): T | undefined {
  try {
    return schema.parse(value);
  } catch (error) {
    if (!(error instanceof ZodError)) throw error;
    ctx.status = 400;
    ctx.body = {
      errors: error.issues.map((issue) => ({ code: 'bad_request', title: `${issue.path.join('.') || 'body'}: ${issue.message}` })),
    };
    return undefined;
  }
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

const appKeyCreation = z.object({
  displayName: z.string(),
  permissions: z.array(z.string()).optional(),
  expiresAt: z.string().optional(),
  allowedIps: z.array(z.string()).optional(),
});

/**
 * A caller can only hand out what it holds: a new app key gets the requested
 * permissions if the caller holds them all (undefined otherwise), and with
 * none requested, the caller's own app-level permissions ([] meaning all of
 * them, when it holds all).
 */
function permissionsForNewKey(caller: Caller, requested: string[]): string[] | undefined {
  const appLevel = permissionsOfLevel('app');
  if (requested.length) return requested.every((name) => caller.permissions.has(name)) ? requested : undefined;
  const held = appLevel.filter((name) => caller.permissions.has(name));
  return held.length === appLevel.length ? [] : held;
}

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
    const query = parsed(ctx, appListQuery, ctx.query);
    if (!query) return;
    const caller = callerOf(ctx);
    const serviceAccountId = query['filter[serviceAccountId]'];
    if (serviceAccountId !== undefined && serviceAccountId !== caller.serviceAccountId) return forbidden(ctx);
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
    const body = parsed(ctx, appFields, ctx.request.body);
    if (!body) return;
    const { displayName, ...extra } = body;
    const app = await createApp(db, callerOf(ctx).accountId, displayName, extra);
    ctx.status = 201;
    ctx.body = { app: presentApp(app) };
  });

  router.get('/apps/:appId', access(appOrAccount, ['app:read', 'app:manage']), (ctx) => {
    ctx.body = { app: presentApp(appOf(ctx)) };
  });

  router.patch('/apps/:appId', access(appOrAccount, ['app:manage']), async (ctx) => {
    const changes = parsed(ctx, appChanges, ctx.request.body);
    if (!changes) return;
    ctx.body = { app: presentApp(await updateApp(db, appOf(ctx), changes)) };
  });

  router.delete('/apps/:appId', access(appOrAccount, ['app:manage']), async (ctx) => {
    await deleteAppWithItsGrants(db, appOf(ctx).id);
    ctx.body = {};
  });

  router.get('/apps/:appId/keys', access(appOrAccount, ['keys:manage']), async (ctx) => {
    ctx.body = { keys: (await listAppKeys(db, appOf(ctx).id)).map((key) => presentKey(key)) };
  });

  router.post('/apps/:appId/keys', access(appOrAccount, ['keys:manage']), async (ctx) => {
    const shape = parsed(ctx, appKeyCreation, ctx.request.body);
    const input = shape && parsed(ctx, apiKeyInput('app'), shape);
    if (!input) return;
    const app = appOf(ctx);
    const permissions = permissionsForNewKey(callerOf(ctx), input.permissions);
    if (!permissions) return forbidden(ctx);
    const { key, secret } = await createApiKey(db, box, { type: 'app', appId: app.id, accountId: app.account_id }, {
      ...input,
      permissions,
      expiresAt: input.expiresAt?.toISOString(),
    });
    ctx.status = 201;
    ctx.body = { key: presentKey(key, secret) };
  });

  router.get('/apps/:appId/keys/:keyId', access(appOrAccount, ['keys:manage']), async (ctx) => {
    const key = await findAppKey(db, appOf(ctx).id, ctx.params.keyId as string);
    if (!key) return apiError(ctx, 404, 'not_found', 'Resource not found');
    ctx.body = { key: presentKey(key) };
  });

  router.delete('/apps/:appId/keys/:keyId', access(appOrAccount, ['keys:manage']), async (ctx) => {
    if (!(await revokeApiKey(db, ctx.params.keyId as string, appOf(ctx).id))) return apiError(ctx, 404, 'not_found', 'Resource not found');
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
    if (permission !== undefined && !isKnownPermission(permission)) return apiError(ctx, 400, 'bad_request', 'Unknown permission');
    if (permission !== undefined && !holdsAny(caller, [permission])) return forbidden(ctx);
    if (appId !== undefined) {
      const app = caller.level === 'account' || caller.appId === appId ? await findApp(db, appId) : undefined;
      if (!app || app.account_id !== caller.accountId) return forbidden(ctx);
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
