import type { Context } from 'koa';
import { listLiveAuthorizations } from '../../authorizations/authorizations.ts';
import { describePermission } from '../../permissions/catalog.ts';
import type { PublicPartner } from '../../partners/partners.ts';
import { renderPage } from '../../http/render.ts';
import {
  eligibleApps,
  interactionOf,
  interactionPaths,
  requestedPermissions,
  sessionOwner,
  signedInAs,
  usableBy,
  type InteractionDetails,
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
      return renderPage(ctx, 200, 'noAppsPage', { ...base, abortAction: interactionPaths.abort(details.uid), retryHref: interactionPaths.page(details.uid), pendingApproval });
    }
    const connected = new Set((await listLiveAuthorizations(db, { partnerId: partner.id, accountId: owner.id })).map((authorization) => authorization.app_id));
    const chosen = apps.length === 1 ? apps[0] : apps.find((app) => app.id === ctx.query.app);
    if (!chosen) {
      return renderPage(ctx, ctx.query.app === undefined ? 200 : 400, 'appPickerPage', {
        ...base,
        partner: partnerIdentity(partner),
        apps: apps.map((app) => ({ id: app.id, name: app.display_name, connected: connected.has(app.id) })),
        action: interactionPaths.page(details.uid),
        abortAction: interactionPaths.abort(details.uid),
        error: ctx.query.app === undefined ? undefined : 'Choose one of your apps.',
      });
    }
    return renderPage(ctx, 200, 'consentPage', {
      csrfToken: base.csrfToken,
      signedInAs: base.signedInAs,
      partner: partnerIdentity(partner),
      app: { id: chosen.id, name: chosen.display_name },
      permissions: consentPermissions(details, partner.optional_permissions),
      returnHost: returnHost(details, partner),
      alreadyConnected: connected.has(chosen.id),
      action: interactionPaths.consent(details.uid),
      changeAppHref: apps.length > 1 ? interactionPaths.page(details.uid) : undefined,
    });
  };
}

/** What the pages of the flow say about who is asking. */
export function partnerIdentity(partner: PublicPartner) {
  return {
    name: partner.name,
    logoUrl: partner.logo_url,
    website: partner.website,
    description: partner.description,
    developer: partner.developer,
    privacyPolicyUrl: partner.privacy_policy_url,
    termsUrl: partner.terms_url,
    reviewed: partner.approved,
  };
}

function consentPermissions(details: InteractionDetails, optional: readonly string[]) {
  return requestedPermissions(details).map((name) => {
    const permission = describePermission(name);
    return { name, description: permission?.description ?? name, effect: permission?.effect ?? 'change', sensitive: permission?.sensitive ?? false, optional: optional.includes(name) };
  });
}

/** Where the browser goes back to: the redirect URL the request named, else the partner's default one. */
function returnHost(details: InteractionDetails, partner: PublicPartner): string {
  const target = typeof details.params.redirect_uri === 'string' ? details.params.redirect_uri : partner.redirect_uris[0];
  return target && URL.canParse(target) ? new URL(target).host : partner.name;
}
