import Router from '@koa/router';
import { seeOther } from '../../http/see-other.ts';
import { addKey, answerMoreAccessRequest, confirmRemoval, narrowAccess, showAccess, confirmRevocation, removeIntegration, revokeKey, showApp } from './app-page.ts';
import { addApp, showApps } from './apps-page.ts';
import { ownApp, type DashboardDependencies } from './dashboard.ts';
import { logIn, logOut, showLogin } from './login-page.ts';
import { showAccountActivity, showAppActivity } from './activity-page.ts';

/**
 * The owner's dashboard: log in and out, the apps, and per app its connected
 * integrations (Remove) and API keys (Create, shown once; Revoke). Remove and
 * Revoke ask first, on a page of their own.
 */
export function dashboardRouter(deps: DashboardDependencies): Router {
  const router = new Router();
  const signedIn = deps.sessions.requireOwner(deps.csrf);
  const csrf = deps.csrf.requireToken();
  const app = ownApp(deps.db);
  const [apps, appPage] = [showApps(deps), showApp(deps)];

  router.get('/', (ctx) => seeOther(ctx, '/dashboard'));
  router.get('/login', showLogin(deps));
  router.post('/login', csrf, logIn(deps));
  router.post('/logout', csrf, logOut(deps));
  router.get('/dashboard', signedIn, (ctx) => apps(ctx));
  router.get('/dashboard/activity', signedIn, showAccountActivity(deps));
  router.post('/dashboard/apps', signedIn, csrf, addApp(deps));
  router.get('/dashboard/apps/:appId', signedIn, app, (ctx) => appPage(ctx));
  router.get('/dashboard/apps/:appId/activity', signedIn, app, showAppActivity(deps));
  router.get('/dashboard/apps/:appId/integrations/:authorizationId/remove', signedIn, app, confirmRemoval(deps));
  router.post('/dashboard/apps/:appId/integrations/:authorizationId/remove', signedIn, csrf, app, removeIntegration(deps));
  router.get('/dashboard/apps/:appId/integrations/:authorizationId/access', signedIn, app, (ctx) => showAccess(deps)(ctx));
  router.post('/dashboard/apps/:appId/integrations/:authorizationId/access', signedIn, csrf, app, narrowAccess(deps));
  router.post('/dashboard/apps/:appId/integrations/:authorizationId/more-access', signedIn, csrf, app, answerMoreAccessRequest(deps));
  router.post('/dashboard/apps/:appId/keys', signedIn, csrf, app, addKey(deps));
  router.get('/dashboard/apps/:appId/keys/:keyId/revoke', signedIn, app, confirmRevocation(deps));
  router.post('/dashboard/apps/:appId/keys/:keyId/revoke', signedIn, csrf, app, revokeKey(deps));
  return router;
}
