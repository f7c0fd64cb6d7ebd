import type { Context } from 'koa';
import { rotatePartnerSecret, updateRedirectUris, type PublicPartner } from '../../partners/partners.ts';
import { formLines, submitForm, type FormProblems } from '../../http/forms.ts';
import { renderPage } from '../../http/render.ts';
import { pageSession } from '../owner-sessions.ts';
import { pagePartner, partnerFormLabels, type PortalDependencies } from './portal.ts';

const partnerPath = (id: string) => `/partners/${id}`;

/** The redirect-URL form sent back with what was typed and what is wrong with it. */
type RedirectForm = { value: string; errors: FormProblems };

/** /partners/{id}: what a form just did (once), credentials, secret rotation, the "Add to app" button, redirect URLs. */
export function showIntegration({ csrf, settings, flashes }: PortalDependencies) {
  return async (ctx: Context, status: number, partner: PublicPartner, redirectForm?: RedirectForm): Promise<void> => {
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
      flashes: await flashes.take(ctx, partnerPath(partner.id)),
      redirectForm,
    });
  };
}

export function saveRedirectUris(deps: PortalDependencies) {
  const show = showIntegration(deps);
  return async (ctx: Context): Promise<void> => {
    const partner = pagePartner(ctx);
    const typed = (ctx.request.body as Record<string, unknown>).redirectUris;
    await submitForm(
      partnerFormLabels,
      async () => {
        await updateRedirectUris(deps.db, partner.id, formLines(typed), deps.settings.production);
        await deps.flashes.redirect(ctx, partnerPath(partner.id), { notice: 'Redirect URLs saved.' });
      },
      (problems) => show(ctx, 400, partner, { value: typeof typed === 'string' ? typed : '', errors: problems }),
    );
  };
}

/** GET …/rotate-secret: what rotating does, before it is done. */
export function confirmRotation({ csrf, settings }: PortalDependencies) {
  return (ctx: Context): void => {
    const partner = pagePartner(ctx);
    renderPage(ctx, 200, 'confirmPage', {
      session: pageSession(ctx, csrf),
      question: `Rotate the client secret of ${partner.name}?`,
      consequences: [
        `A new client secret is made and shown once. The current one keeps working for ${duration(settings.SECRET_ROTATION_GRACE)}, time to deploy the new one; then only the new one works.`,
        ...(partner.previous_secret_expires_at && new Date(partner.previous_secret_expires_at).getTime() > Date.now()
          ? ['The secret replaced by the last rotation stops working now.']
          : []),
      ],
      action: `${partnerPath(partner.id)}/rotate-secret`,
      confirmLabel: 'Rotate secret',
      cancelHref: partnerPath(partner.id),
    });
  };
}

/** A new secret, then Post/Redirect/Get: the integration's page shows it once; a reload rotates nothing. */
export function rotateSecret(deps: PortalDependencies) {
  return async (ctx: Context): Promise<void> => {
    const partner = pagePartner(ctx);
    const { clientSecret } = await rotatePartnerSecret(deps.db, deps.partnerSecrets, partner.id, deps.settings.SECRET_ROTATION_GRACE);
    await deps.flashes.redirect(ctx, partnerPath(partner.id), {
      notice: `New client secret for ${partner.name} created; the previous one keeps working for ${duration(deps.settings.SECRET_ROTATION_GRACE)}.`,
      secrets: [{ label: 'Client secret', value: clientSecret }],
    });
  };
}

/** A number of seconds in the largest whole unit: "24 hours", "90 seconds". */
function duration(seconds: number): string {
  const [amount, unit] = seconds % 3600 === 0 ? [seconds / 3600, 'hour'] : seconds % 60 === 0 ? [seconds / 60, 'minute'] : [seconds, 'second'];
  return `${amount} ${unit}${amount === 1 ? '' : 's'}`;
}
