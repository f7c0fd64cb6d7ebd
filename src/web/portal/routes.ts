import Router from '@koa/router';
import { confirmRotation, rotateSecret, saveRedirectUris, showIntegration } from './integration-page.ts';
import { register, showIntegrations } from './integrations-page.ts';
import { showIntegrationActivity } from './activity-page.ts';
import { queueTestNotice, redeliver, showNoticeLog } from './notices-page.ts';
import { confirmDeletion, deletePartner, saveEdit, showEdit } from './edit-page.ts';
import { confirmInstallationRemoval, exportInstallations, removeAllInstallations, removeInstallation, showInstallations } from './installations-page.ts';
import { ownPartner, pagePartner, type PortalDependencies } from './portal.ts';

/**
 * The partner portal: any signed-in account registers integrations (pending
 * until an operator approves them for other owners), edits redirect URLs,
 * rotates the client secret with a grace period, and copies the button.
 */
export function portalRouter(deps: PortalDependencies): Router {
  const router = new Router({ prefix: '/partners' });
  const signedIn = deps.sessions.requireOwner(deps.csrf);
  const csrf = deps.csrf.requireToken();
  const partner = ownPartner(deps.db);
  const [integrations, integration] = [showIntegrations(deps), showIntegration(deps)];

  router.get('/', signedIn, (ctx) => integrations(ctx));
  router.post('/', signedIn, csrf, register(deps));
  router.get('/:partnerId', signedIn, partner, (ctx) => integration(ctx, 200, pagePartner(ctx)));
  router.get('/:partnerId/activity', signedIn, partner, showIntegrationActivity(deps));
  router.post('/:partnerId/redirect-uris', signedIn, csrf, partner, saveRedirectUris(deps));
  router.get('/:partnerId/rotate-secret', signedIn, partner, confirmRotation(deps));
  router.post('/:partnerId/rotate-secret', signedIn, csrf, partner, rotateSecret(deps));
  router.get('/:partnerId/edit', signedIn, partner, (ctx) => showEdit(deps)(ctx));
  router.post('/:partnerId/edit', signedIn, csrf, partner, saveEdit(deps));
  router.get('/:partnerId/delete', signedIn, partner, confirmDeletion(deps));
  router.post('/:partnerId/delete', signedIn, csrf, partner, deletePartner(deps));
  router.get('/:partnerId/installations', signedIn, partner, (ctx) => showInstallations(deps)(ctx));
  router.get('/:partnerId/installations.csv', signedIn, partner, exportInstallations(deps));
  router.post('/:partnerId/installations/remove-all', signedIn, csrf, partner, removeAllInstallations(deps));
  router.get('/:partnerId/installations/:authorizationId/remove', signedIn, partner, confirmInstallationRemoval(deps));
  router.post('/:partnerId/installations/:authorizationId/remove', signedIn, csrf, partner, removeInstallation(deps));
  router.get('/:partnerId/notices', signedIn, partner, (ctx) => showNoticeLog(deps)(ctx));
  router.post('/:partnerId/notices/test', signedIn, csrf, partner, queueTestNotice(deps));
  router.post('/:partnerId/notices/:noticeId/redeliver', signedIn, csrf, partner, redeliver(deps));
  return router;
}
