import Router from '@koa/router';
import type { Settings } from '../config/settings.ts';
import type { SigningKeySet } from '../keys/signing-keys.ts';
import { oauthRoutes } from './provider.ts';

/**
 * GET /oauth/jwks: the public half of every published signing key, from
 * this instance's live view of the shared set, so a rotation shows here
 * within one refresh interval without a restart (the engine's own JWKS is
 * fixed when it is built). A cached copy may be kept until a key it lacks
 * could sign: the activation delay less one refresh interval.
 */
export function jwksRouter(keys: SigningKeySet, settings: Settings): Router {
  const maxAge = Math.floor((settings.SIGNING_KEY_ACTIVATION_DELAY * 1000 - settings.SIGNING_KEYS_REFRESH_INTERVAL_MS) / 1000);
  const router = new Router();
  router.get(oauthRoutes.jwks, (ctx) => {
    ctx.set('Access-Control-Allow-Origin', '*');
    ctx.set('Cache-Control', `public, max-age=${maxAge}`);
    ctx.type = 'application/jwk-set+json; charset=utf-8';
    ctx.body = { keys: keys.published() };
  });
  return router;
}
