import Router from '@koa/router';
import type { Context } from 'koa';
import { showAppChoice } from './app-choice-step.ts';
import { abort, decide } from './consent-step.ts';
import { interactionOf, loadInteraction, requirePrompt, startOverAsSomeoneElse, type InteractionDependencies } from './interaction.ts';
import { logIn, showLogin } from './login-step.ts';

/**
 * The pages between /oauth/authorize and the partner's redirect: log in,
 * choose an app, consent. Each handler is a short pipeline: load the
 * engine's interaction, check the form, do one step, hand the result back
 * to the engine, which redirects.
 */
export function interactionRouter(deps: InteractionDependencies): Router {
  const router = new Router();
  const load = loadInteraction(deps);
  const csrf = deps.csrf.requireToken();
  const login = showLogin(deps);
  const appChoice = showAppChoice(deps);
  const showStep = (ctx: Context) => (interactionOf(ctx).details.prompt.name === 'login' ? login(ctx) : appChoice(ctx));

  router.get('/interaction/:uid', load, showStep);
  router.post('/interaction/:uid/login', load, csrf, requirePrompt('login', deps.csrf), logIn(deps));
  router.post('/interaction/:uid/consent', load, csrf, requirePrompt('consent', deps.csrf), decide(deps));
  router.post('/interaction/:uid/abort', load, csrf, abort(deps));
  router.post('/interaction/:uid/not-you', load, csrf, startOverAsSomeoneElse(deps));
  return router;
}
