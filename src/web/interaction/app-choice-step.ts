import type { Context } from 'koa';
import { describePermission } from '../../permissions/catalog.ts';
import { renderPage } from '../../http/render.ts';
import {
  eligibleApps,
  interactionOf,
  interactionPaths,
  requestedPermissions,
  sessionOwner,
  signedInAs,
  usableBy,
  type InteractionDependencies,
} from './interaction.ts';

/**
 * After login: the app picker (several apps, none chosen yet), a page saying
 * there is no app to add the partner to, or the consent page for the one
 * app (the only one, or the one chosen with ?app=).
 */
export function showAppChoice({ db, csrf }: InteractionDependencies) {
  return async (ctx: Context): Promise<void> => {
    const { details, partner } = interactionOf(ctx);
    const owner = await sessionOwner(db, ctx);
    const apps = await eligibleApps(db, owner, partner);
    const base = { csrfToken: csrf.tokenFor(ctx), signedInAs: signedInAs(ctx, csrf, owner), partnerName: partner.name };
    if (apps.length === 0) {
      const pendingApproval = !usableBy(owner, partner);
      return renderPage(ctx, 200, 'noAppsPage', { ...base, abortAction: interactionPaths.abort(details.uid), pendingApproval });
    }
    const chosen = apps.length === 1 ? apps[0] : apps.find((app) => app.id === ctx.query.app);
    if (!chosen) {
      return renderPage(ctx, 200, 'appPickerPage', {
        ...base,
        apps: apps.map((app) => ({ id: app.id, name: app.display_name })),
        action: interactionPaths.page(details.uid),
        abortAction: interactionPaths.abort(details.uid),
      });
    }
    return renderPage(ctx, 200, 'consentPage', {
      csrfToken: base.csrfToken,
      signedInAs: base.signedInAs,
      partner: {
        name: partner.name,
        logoUrl: partner.logo_url,
        website: partner.website,
        description: partner.description,
        developer: partner.developer,
        privacyPolicyUrl: partner.privacy_policy_url,
        termsUrl: partner.terms_url,
      },
      app: { id: chosen.id, name: chosen.display_name },
      permissions: requestedPermissions(details).map((name) => ({ name, description: describePermission(name)?.description ?? name })),
      action: interactionPaths.consent(details.uid),
      changeAppHref: apps.length > 1 ? interactionPaths.page(details.uid) : undefined,
    });
  };
}
