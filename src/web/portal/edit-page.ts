import type { Context } from 'koa';
import { appLevelPermissions, type PublicPartner } from '../../partners/partners.ts';
import { updatePartner } from '../../partners/partner-changes.ts';
import { deleteIntegration } from '../../oauth/storage/token-revocation.ts';
import { narrowToRegistered } from '../../oauth/approvals.ts';
import { platformApiResource } from '../../oauth/provider.ts';
import { permissionCatalog } from '../../permissions/catalog.ts';
import { formLines, formList, formText, submitForm } from '../../http/forms.ts';
import { renderPage } from '../../http/render.ts';
import { pageSession } from '../owner-sessions.ts';
import { pagePartner, partnerFormLabels, type PortalDependencies } from './portal.ts';

const partnerCatalog = permissionCatalog.filter((permission) => appLevelPermissions.includes(permission.name));
const textFields = ['name', 'description', 'developer', 'logoUrl', 'website', 'privacyPolicyUrl', 'termsUrl', 'removeUrl', 'accessNote'] as const;
const columnOf = {
  name: 'name', description: 'description', developer: 'developer', logoUrl: 'logo_url', website: 'website',
  privacyPolicyUrl: 'privacy_policy_url', termsUrl: 'terms_url', removeUrl: 'remove_url', accessNote: 'access_note',
} as const;

/**
 * The form's values: what the partner last asked for, so saving the form
 * again keeps a change that waits for review (the values in force otherwise).
 */
function valuesOf(partner: PublicPartner): Record<string, string> {
  const pending = partner.pending_changes ?? {};
  const values: Record<string, string> = Object.fromEntries(
    textFields.map((field) => [field, String((field in pending ? pending[field] : partner[columnOf[field]]) ?? '')]),
  );
  const optional = (pending.optionalPermissions as string[] | undefined) ?? partner.optional_permissions;
  return { ...values, redirectUris: partner.redirect_uris.join('\n'), optionalPermissions: optional.join(' ') };
}

const requestedPermissions = (partner: PublicPartner) => (partner.pending_changes?.permissions as string[] | undefined) ?? partner.permissions;

type Refill = { values: Record<string, string>; permissions: string[]; errors: Record<string, string> };

/** GET /partners/{id}/edit */
export function showEdit({ csrf }: PortalDependencies) {
  return (ctx: Context, status = 200, refill?: Refill): void => {
    const partner = pagePartner(ctx);
    renderPage(ctx, status, 'partnerEditPage', {
      session: pageSession(ctx, csrf),
      partner: { id: partner.id, name: partner.name, approved: partner.approved },
      values: refill?.values ?? valuesOf(partner),
      permissions: refill?.permissions ?? requestedPermissions(partner),
      catalog: partnerCatalog,
      pending: Object.entries(partner.pending_changes ?? {}).map(([field, value]) => ({ field, value: Array.isArray(value) ? value.join(' ') : String(value ?? '(cleared)') })),
      errors: refill?.errors,
    });
  };
}

/** POST /partners/{id}/edit: saved (in force, or waiting for review), or the form again with what is wrong and nothing saved. */
export function saveEdit(deps: PortalDependencies) {
  const show = showEdit(deps);
  return async (ctx: Context): Promise<void> => {
    const partner = pagePartner(ctx);
    const body = ctx.request.body as Record<string, unknown>;
    const texts = Object.fromEntries(textFields.map((field) => [field, formText(body[field])]));
    await submitForm(
      partnerFormLabels,
      async () => {
        const optionalPermissions = formText(body.optionalPermissions).split(/\s+/).filter(Boolean);
        const changes = { ...texts, redirectUris: formLines(body.redirectUris), permissions: formList(body.permissions), optionalPermissions };
        const actor = { type: 'partner' as const, id: partner.id };
        const updated = await deps.db.transaction(async (trx) => {
          const result = await updatePartner(trx, deps.settings, partner.id, changes, actor);
          if (result) await narrowToRegistered(trx, partner.id, result.partner.permissions, platformApiResource(deps.settings), actor);
          return result;
        });
        const waiting = updated?.awaitingReview.length ? ` Waiting for the operator's review: ${updated.awaitingReview.join(', ')}.` : '';
        await deps.flashes.redirect(ctx, `/partners/${partner.id}`, { notice: `Changes saved.${waiting}` });
      },
      (problems) => {
        const values = { ...texts, redirectUris: formText(body.redirectUris), optionalPermissions: formText(body.optionalPermissions) };
        return show(ctx, 400, { values, permissions: formList(body.permissions), errors: problems.fields });
      },
    );
  };
}

/** GET /partners/{id}/delete: what Delete will do, before it is done. */
export function confirmDeletion({ db, csrf }: PortalDependencies) {
  return async (ctx: Context): Promise<void> => {
    const partner = pagePartner(ctx);
    const installations = Number((await db('authorizations').where({ partner_id: partner.id }).whereNull('revoked_at').count({ n: '*' }).first())?.n ?? 0);
    renderPage(ctx, 200, 'confirmPage', {
      session: pageSession(ctx, csrf),
      question: `Delete ${partner.name}?`,
      consequences: [
        `It is installed on ${installations} app(s): every one of those authorizations ends now, and each is reported to you as removed.`,
        'Its client id and secret stop working for good. This cannot be undone.',
      ],
      action: `/partners/${partner.id}/delete`,
      confirmLabel: `Delete ${partner.name}`,
      cancelHref: `/partners/${partner.id}`,
    });
  };
}

/** POST /partners/{id}/delete */
export function deletePartner(deps: PortalDependencies) {
  return async (ctx: Context): Promise<void> => {
    const partner = pagePartner(ctx);
    await deleteIntegration(deps.db, partner.id, { type: 'partner', id: partner.id });
    await deps.flashes.redirect(ctx, '/partners', { notice: `Integration "${partner.name}" deleted; every installation of it ended.` });
  };
}
