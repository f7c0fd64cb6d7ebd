import Router from '@koa/router';
import type { Context } from 'koa';
import type { Knex } from 'knex';
import type { Provider } from 'oidc-provider';
import { revokeGrant } from './adapter.ts';
import { apiError } from '../server/errors.ts';

/** The access token of a `Authorization: Bearer …` header, if that is what the request carries. */
export function bearerToken(ctx: Context): string | undefined {
  const match = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i.exec(ctx.get('authorization'));
  return match?.[1];
}

function refuseToken(ctx: Context): void {
  ctx.set('WWW-Authenticate', 'Bearer realm="appgrant", error="invalid_token"');
  apiError(ctx, 401, 'unauthorized', 'Authorization is required');
}

/**
 * DELETE /oauth/authorization: a partner gives up its access to an app. The
 * authorization and every token issued under it are removed at once.
 */
export function revokeAuthorizationRouter(db: Knex, provider: Provider): Router {
  const router = new Router();
  router.delete('/oauth/authorization', async (ctx) => {
    const value = bearerToken(ctx);
    const token = value ? await provider.AccessToken.find(value) : undefined;
    const grant = token?.grantId ? await provider.Grant.find(token.grantId) : undefined;
    if (!token || !grant || grant.clientId !== token.clientId) return refuseToken(ctx);
    await revokeGrant(db, grant.jti);
    ctx.status = 204;
  });
  return router;
}
