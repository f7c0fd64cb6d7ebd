import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { findApp } from '../apps/apps.ts';
import { ApiProblem, ForbiddenProblem } from '../http/problems.ts';
import { isKnownPermission } from '../permissions/catalog.ts';
import { callerOf, holdsAny, type Guard } from './access.ts';
import type { ApiDependencies } from './dependencies.ts';
import { credentialAnswer, presentCredential } from './presenters.ts';

/**
 * GET /v2/credentials/current: who the credentials belong to and, with
 * ?appId=…&permission=…, whether they may use that permission on that app
 * (403 when not). The platform API and browser SDKs use it to check a
 * credential before acting.
 */
export function credentialRoutes(router: Router, deps: ApiDependencies, guard: Guard): void {
  router.get('/credentials/current', guard(['app', 'account', 'appUser'], []), currentCredential(deps));
}

/** `?appId=…&permission=…`: each once, both optional. */
export const currentCredentialQuery = z.object({
  appId: z.string().optional().meta({ description: 'With it: 403 unless the credentials may act on this app' }),
  permission: z.string().optional().meta({ description: 'With it: 403 unless the credentials hold this permission; 400 when no such permission exists' }),
});

function currentCredential({ db }: ApiDependencies) {
  return async (ctx: Context): Promise<void> => {
    const caller = callerOf(ctx);
    const { appId, permission } = currentCredentialQuery.parse(ctx.query);
    if (permission !== undefined && !isKnownPermission(permission)) throw new ApiProblem(400, 'bad_request', 'Unknown permission');
    if (permission !== undefined && !holdsAny(caller, [permission])) throw new ForbiddenProblem('permission');
    if (appId !== undefined) {
      const app = caller.level === 'account' || caller.appId === appId ? await findApp(db, appId) : undefined;
      if (!app || app.account_id !== caller.accountId) throw new ForbiddenProblem('other_app');
    }
    ctx.body = { credential: presentCredential(caller) } satisfies z.output<typeof credentialAnswer>;
  };
}
