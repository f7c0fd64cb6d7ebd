import type { Context } from 'koa';
import { findPartner, rotatePartnerSecret, updateRedirectUris, type PublicPartner } from '../../partners/partners.ts';
import { formLines, submitForm } from '../../http/forms.ts';
import { renderPage } from '../../http/render.ts';
import { pageSession } from '../owner-sessions.ts';
import { pagePartner, partnerFormLabels, type PortalDependencies } from './portal.ts';

type IntegrationPageExtra = { newSecret?: string; notice?: string; error?: string };

/** /partners/{id}: credentials, secret rotation, the "Add to app" button, redirect URLs. */
export function showIntegration({ csrf, settings }: PortalDependencies) {
  return (ctx: Context, status: number, partner: PublicPartner, extra: IntegrationPageExtra = {}): void => {
    renderPage(ctx, status, 'partnerPage', {
      session: pageSession(ctx, csrf),
      partner: {
        id: partner.id,
        name: partner.name,
        approved: partner.approved,
        redirectUris: partner.redirect_uris,
        permissions: partner.permissions,
        removeUrl: partner.remove_url,
        previousSecretValidUntil: partner.previous_secret_expires_at,
        suspendedAt: partner.suspended_at,
      },
      authorizeUrl: `${settings.ISSUER}/oauth/authorize?${new URLSearchParams({ client_id: partner.id, response_type: 'code' })}`,
      ...extra,
    });
  };
}

export function saveRedirectUris(deps: PortalDependencies) {
  const show = showIntegration(deps);
  return async (ctx: Context): Promise<void> => {
    const partner = pagePartner(ctx);
    const uris = formLines((ctx.request.body as Record<string, unknown>).redirectUris);
    await submitForm(
      partnerFormLabels,
      async () => show(ctx, 200, await updateRedirectUris(deps.db, partner.id, uris, deps.settings.production), { notice: 'Redirect URLs saved.' }),
      (problems) => show(ctx, 400, partner, { error: `Redirect URLs not saved: ${problems}` }),
    );
  };
}

/** A new secret, shown this once; the old one keeps working for the grace period. */
export function rotateSecret(deps: PortalDependencies) {
  const show = showIntegration(deps);
  return async (ctx: Context): Promise<void> => {
    const partner = pagePartner(ctx);
    const { clientSecret } = await rotatePartnerSecret(deps.db, deps.hasher, partner.id, deps.settings.SECRET_ROTATION_GRACE);
    const rotated = (await findPartner(deps.db, partner.id)) as PublicPartner;
    show(ctx, 200, rotated, { newSecret: clientSecret, notice: 'New secret created.' });
  };
}
