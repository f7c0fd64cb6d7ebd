import type Router from '@koa/router';
import type { Context } from 'koa';
import { createApiKey, findAppKey, listAppKeys, revokeApiKey, type ApiKeyInput, type KeyCreator } from '../credentials/api-keys.ts';
import type { Caller } from '../credentials/caller.ts';
import { ApiProblem } from '../http/problems.ts';
import { appOf, appOrAccount, callerOf, type Guard } from './access.ts';
import type { ApiDependencies } from './dependencies.ts';
import { requestOrigin } from '../http/origin.ts';
import { actorOf } from './actors.ts';
import { emptyAnswer, keyAnswer, keyListAnswer, newKeyAnswer, presentKey, presentNewKey } from './presenters.ts';
import type { z } from 'zod';

const keysManage = ['keys:manage'];

/** /v2/apps/{appId}/keys: an app's keys; the secret is shown once, on create. */
export function keyRoutes(router: Router, deps: ApiDependencies, guard: Guard): void {
  router.get('/apps/:appId/keys', guard(appOrAccount, keysManage), listKeys(deps));
  router.post('/apps/:appId/keys', guard(appOrAccount, keysManage), addKey(deps));
  router.get('/apps/:appId/keys/:keyId', guard(appOrAccount, keysManage), showKey(deps));
  router.delete('/apps/:appId/keys/:keyId', guard(appOrAccount, keysManage), deleteKey(deps));
}

const noSuchKey = () => new ApiProblem(404, 'not_found', 'Resource not found');

function listKeys({ db }: ApiDependencies) {
  return async (ctx: Context): Promise<void> => {
    ctx.body = { keys: (await listAppKeys(db, appOf(ctx).id)).map((key) => presentKey(key)) } satisfies z.output<typeof keyListAnswer>;
  };
}

/**
 * What a caller creating a key holds, which bounds the key (createApiKey
 * refuses more with the 403): an API key, everything it was given; a
 * partner's token, its approved permissions, and the key is bound to its
 * authorization.
 */
function creatorOf(caller: Caller): KeyCreator {
  if (caller.key) return { permissions: new Set(caller.key.permissions), expiresAt: caller.key.expiresAt, allowedIps: caller.key.allowedIps };
  return { permissions: caller.permissions, allowedIps: [], authorizationId: caller.authorizationId };
}

function addKey({ db, box, keyEvents }: ApiDependencies) {
  return async (ctx: Context): Promise<void> => {
    const app = appOf(ctx);
    const owner = { type: 'app', appId: app.id, accountId: app.account_id } as const;
    const { key, secret } = await createApiKey(db, box, owner, ctx.request.body as ApiKeyInput, {
      creator: creatorOf(callerOf(ctx)),
      events: keyEvents,
      audit: { actor: actorOf(callerOf(ctx)), origin: requestOrigin(ctx), appName: app.display_name },
    });
    ctx.status = 201;
    ctx.body = { key: presentNewKey(key, secret) } satisfies z.output<typeof newKeyAnswer>;
  };
}

function showKey({ db }: ApiDependencies) {
  return async (ctx: Context): Promise<void> => {
    const key = await findAppKey(db, appOf(ctx).id, ctx.params.keyId as string);
    if (!key) throw noSuchKey();
    ctx.body = { key: presentKey(key) } satisfies z.output<typeof keyAnswer>;
  };
}

function deleteKey({ db, keyEvents }: ApiDependencies) {
  return async (ctx: Context): Promise<void> => {
    if (!(await revokeApiKey(db, ctx.params.keyId as string, appOf(ctx).id, { actor: actorOf(callerOf(ctx)), origin: requestOrigin(ctx), appName: appOf(ctx).display_name }, keyEvents))) throw noSuchKey();
    ctx.body = {} satisfies z.output<typeof emptyAnswer>;
  };
}
