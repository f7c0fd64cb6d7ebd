import Router from '@koa/router';
import { z } from 'zod';
import type { Knex } from 'knex';
import { authorize, callerOf, holdsAny } from './access.ts';
import type { CallerResolver } from '../credentials/resolve.ts';
import { ApiProblem, ForbiddenProblem } from '../http/problems.ts';
import { requestOrigin } from '../http/origin.ts';
import { findLiveAuthorizationOfPartnerOnApp } from '../authorizations/authorizations.ts';
import { revokeGrant } from '../oauth/storage/grant-revocation.ts';

/** What removing another partner from an app takes, like connecting one. */
const manageIntegrations = ['integrations:manage'];

/** `?client_id=`: the partner an app's own credentials remove; ignored with a partner's token. */
export const revokeAuthorizationQuery = z.object({
  client_id: z.string().optional().meta({ description: "The partner to remove; required with the app's own credentials" }),
});

/**
 * DELETE /oauth/authorization: a partner gives up its access to an app with
 * the token it was given (no permission needed to give up one's own); or
 * the app itself removes a partner, with app credentials holding
 * integrations:manage and ?client_id=. The authorization, every token issued
 * under it and every key created with those tokens stop working at once.
 */
export function revokeAuthorizationRouter(db: Knex, resolver: CallerResolver): Router {
  const router = new Router();
  const access = authorize(resolver, db, { levels: ['app'], permissions: [] });
  router.delete('/oauth/authorization', access, async (ctx) => {
    const caller = callerOf(ctx);
    if (caller.grantId) {
      await revokeGrant(db, caller.grantId, { cause: 'partner', origin: requestOrigin(ctx) });
      ctx.status = 204;
      return;
    }
    if (!holdsAny(caller, manageIntegrations)) throw new ForbiddenProblem('permission');
    const { client_id: clientId } = revokeAuthorizationQuery.parse(ctx.query);
    if (!clientId) throw new ApiProblem(400, 'bad_request', 'client_id is required with app credentials');
    const authorization = await findLiveAuthorizationOfPartnerOnApp(db, clientId, caller.appId as string);
    if (!authorization) throw new ApiProblem(404, 'not_found', 'No authorization of this partner on this app');
    await revokeGrant(db, authorization.grant_id, { cause: 'owner', actor: { type: 'api_key', id: caller.keyId as string }, origin: requestOrigin(ctx) });
    ctx.status = 204;
  });
  return router;
}
