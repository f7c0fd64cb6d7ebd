import type { Context } from 'koa';
import { appLevelPermissions, createPartner, listPartnersOfAccount } from '../../partners/partners.ts';
import { permissionCatalog } from '../../permissions/catalog.ts';
import { formLines, formList, formText, submitForm, type FormProblems } from '../../http/forms.ts';
import { renderPage } from '../../http/render.ts';
import { ownerOf, pageSession } from '../owner-sessions.ts';
import { partnerFormLabels, type PortalDependencies } from './portal.ts';

const partnerCatalog = permissionCatalog.filter((permission) => appLevelPermissions.includes(permission.name));

/** The text fields of the registration form, given back to it after a refusal. */
const refilledFields = ['name', 'redirectUris', 'description', 'developer', 'logoUrl', 'website', 'privacyPolicyUrl', 'termsUrl', 'removeUrl'];

/** The registration form sent back with what was typed, what was checked and what is wrong. */
type RegisterForm = { values: Record<string, string>; permissions: string[]; errors: FormProblems };

/** /partners: the integrations the owner builds, and the form to register one. */
export function showIntegrations({ db, csrf }: PortalDependencies) {
  return async (ctx: Context, status = 200, registerForm?: RegisterForm): Promise<void> => {
    const partners = await listPartnersOfAccount(db, ownerOf(ctx).id);
    renderPage(ctx, status, 'portalPage', {
      session: pageSession(ctx, csrf),
      partners: partners.map((partner) => ({ id: partner.id, name: partner.name, approved: partner.approved, redirectUris: partner.redirect_uris })),
      permissions: partnerCatalog,
      registerForm,
    });
  };
}

/** POST /partners: a new integration, pending approval; then Post/Redirect/Get to its page, which shows the secret once. */
export function register(deps: PortalDependencies) {
  const showAgain = showIntegrations(deps);
  return async (ctx: Context): Promise<void> => {
    const body = ctx.request.body as Record<string, unknown>;
    const optional = (value: unknown) => formText(value) || undefined;
    await submitForm(
      partnerFormLabels,
      async () => {
        const { partner, clientSecret } = await createPartner(deps.db, deps.partnerSecrets, deps.settings, {
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
        await deps.flashes.redirect(ctx, `/partners/${partner.id}`, {
          notice: `Integration "${partner.name}" registered.`,
          secrets: [{ label: 'Client secret', value: clientSecret }],
        });
      },
      (problems) => {
        const values = Object.fromEntries(refilledFields.map((name) => [name, typeof body[name] === 'string' ? body[name] : '']));
        return showAgain(ctx, 400, { values, permissions: formList(body.permissions), errors: problems });
      },
    );
  };
}
