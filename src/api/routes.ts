import Router from '@koa/router';
import { appRoutes } from './apps.ts';
import { credentialRoutes } from './credentials.ts';
import { guardFor } from './access.ts';
import type { ApiDependencies } from './dependencies.ts';
import { keyRoutes } from './keys.ts';
import { eventRoutes } from './events.ts';
import { partnerRoutes } from './partner-installations.ts';

/**
 * The platform's v2 API for apps and their keys (the Sunshine Conversations
 * v2 contract). Every route is: authorize (who, level, permission, which
 * app), validate the input, do one thing, present the result.
 */
export function apiRouter(deps: ApiDependencies): Router {
  const router = new Router({ prefix: '/v2' });
  const guard = guardFor(deps.resolver, deps.db);

  // Answers about credentials and secrets are never to be stored by a cache.
  router.use((ctx, next) => {
    ctx.set('Cache-Control', 'no-store');
    return next();
  });

  appRoutes(router, deps, guard);
  keyRoutes(router, deps, guard);
  credentialRoutes(router, deps, guard);
  eventRoutes(router, deps, guard);
  partnerRoutes(router, deps);
  return router;
}
