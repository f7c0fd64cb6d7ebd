import type { Context } from 'koa';
import { appLevelPermissions, createPartner, listPartnersOfAccount } from '../../partners/partners.ts';
import { permissionCatalog } from '../../permissions/catalog.ts';
import { formLines, formList, formText, submitForm } from '../../http/forms.ts';
import { renderPage } from '../../http/render.ts';
import { ownerOf, pageSession } from '../owner-sessions.ts';
import { showIntegration } from './integration-page.ts';
import { partnerFormLabels, type PortalDependencies } from './portal.ts';

const partnerCatalog = permissionCatalog.filter((permission) => appLevelPermissions.includes(permission.name));

/** The text fields of the registration form, given back to it after a refusal. */
const refilledFields = ['name', 'redirectUris', 'description', 'developer', 'logoUrl', 'website', 'privacyPolicyUrl', 'termsUrl', 'removeUrl'];

/** /partners: the integrations the owner builds, and the form to register one. */
export function showIntegrations({ db, csrf }: PortalDependencies) {
  return async (ctx: Context, status = 200, extra: { error?: string; form?: Record<string, string> } = {}): Promise<void> => {
    const partners = await listPartnersOfAccount(db, ownerOf(ctx).id);
    renderPage(ctx, status, 'portalPage', {
      session: pageSession(ctx, csrf),
      partners: partners.map((partner) => ({ id: partner.id, name: partner.name, approved: partner.approved, redirectUris: partner.redirect_uris })),
      permissions: partnerCatalog,
      ...extra,
    });
  };
}

/** POST /partners: a new integration, pending approval, with its secret shown this once. */
export function register(deps: PortalDependencies) {
  const [showAgain, showCreated] = [showIntegrations(deps), showIntegration(deps)];
  return async (ctx: Context): Promise<void> => {
    const body = ctx.request.body as Record<string, unknown>;
    const optional = (value: unknown) => formText(value) || undefined;
    await submitForm(
      partnerFormLabels,
      async () => {
        const { partner, clientSecret } = await createPartner(deps.db, deps.hasher, deps.settings, {
          name: formText(body.name),
          redirectUris: formLines(body.redirectUris),
          permissions: formList(body.permissions),
          logoUrl: optional(body.logoUrl),
          website: optional(body.website),
          description: optional(body.description),
          developer: optional(body.developer),
          privacyPolicyUrl: optional(body.privacyPolicyUrl),
          termsUrl: optional(body.termsUrl),
          removeUrl: optional(body.removeUrl),
          accountId: ownerOf(ctx).id,
          approved: false,
        });
        showCreated(ctx, 201, partner, { newSecret: clientSecret, notice: 'Integration registered.' });
      },
      (problems) => {
        const form = Object.fromEntries(refilledFields.map((name) => [name, formText(body[name])]));
        return showAgain(ctx, 400, { error: `The integration was not registered: ${problems}`, form });
      },
    );
  };
}
