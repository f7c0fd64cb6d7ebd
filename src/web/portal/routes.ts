import Router from '@koa/router';
import type { Context, Next } from 'koa';
import type { Knex } from 'knex';
import type { Settings } from '../../config/settings.ts';
import type { PasswordHasher } from '../../accounts/password-hasher.ts';
import {
  appLevelPermissions,
  createPartner,
  findPartner,
  listPartnersOfAccount,
  rotatePartnerSecret,
  updateRedirectUris,
  type PublicPartner,
} from '../../partners/partners.ts';
import { permissionCatalog } from '../../permissions/catalog.ts';
import { escapeHtml } from '../../../views/html.ts';
import type { CsrfGuard } from '../../http/csrf.ts';
import { formLines, formList, formText, submitForm } from '../../http/forms.ts';
import { PageProblem } from '../../http/problems.ts';
import { ownerOf, type OwnerSessions } from '../owner-sessions.ts';
import { renderPage } from '../../http/render.ts';

export interface PortalDependencies {
  db: Knex;
  settings: Settings;
  hasher: PasswordHasher;
  csrf: CsrfGuard;
  sessions: OwnerSessions;
}

const partnerCatalog = permissionCatalog.filter((permission) => appLevelPermissions.includes(permission.name));

/** The registration form's fields as its labels name them. */
const partnerFormLabels = {
  name: 'name',
  redirectUris: 'redirect URL',
  permissions: 'permissions',
  logoUrl: 'logo URL',
  website: 'website',
  removeUrl: 'removal notice URL',
};

/** The HTML a partner pastes on its site: a link that starts the flow for its client. */
function addToAppSnippet(issuer: string, clientId: string): string {
  const href = `${issuer}/oauth/authorize?${new URLSearchParams({ client_id: clientId, response_type: 'code' })}`;
  return `<a href="${escapeHtml(href)}" style="display:inline-block;padding:10px 16px;border-radius:6px;background:#0b5cad;color:#fff;font:600 15px/1 system-ui,sans-serif;text-decoration:none">Add to app</a>`;
}

/**
 * The partner portal: any signed-in account registers integrations (pending
 * until an operator approves them for other owners), edits redirect URLs,
 * rotates the client secret with a grace period, and copies the button.
 */
export function portalRouter(deps: PortalDependencies): Router {
  const { db, csrf, sessions, settings } = deps;
  const router = new Router({ prefix: '/partners' });
  const signedIn = sessions.requireOwner();
  const requireCsrfToken = csrf.requireToken();
  const session = (ctx: Context) => ({ email: ownerOf(ctx).email, csrfToken: csrf.tokenFor(ctx) });

  /** The owner's own integration named in the path; anyone else's is not found. */
  async function ownPartner(ctx: Context, next: Next): Promise<void> {
    const partner = await findPartner(db, ctx.params.partnerId as string);
    if (!partner || partner.role !== 'partner' || partner.account_id !== ownerOf(ctx).id) {
      throw new PageProblem(404, 'Integration not found', 'There is no such integration in your account.');
    }
    ctx.state.partner = partner;
    return next();
  }

  function showPartner(ctx: Context, status: number, partner: PublicPartner, extra: { newSecret?: string; notice?: string; error?: string } = {}): void {
    renderPage(ctx, status, 'partnerPage', {
      session: session(ctx),
      partner: {
        id: partner.id,
        name: partner.name,
        approved: partner.approved,
        redirectUris: partner.redirect_uris,
        permissions: partner.permissions,
        removeUrl: partner.remove_url,
        previousSecretValidUntil: partner.previous_secret_expires_at,
      },
      snippet: addToAppSnippet(settings.ISSUER, partner.id),
      ...extra,
    });
  }

  async function showPortal(ctx: Context, status: number, extra: { error?: string; form?: Record<string, string> } = {}): Promise<void> {
    const partners = await listPartnersOfAccount(db, ownerOf(ctx).id);
    renderPage(ctx, status, 'portalPage', {
      session: session(ctx),
      partners: partners.map((partner) => ({ id: partner.id, name: partner.name, approved: partner.approved, redirectUris: partner.redirect_uris })),
      permissions: partnerCatalog,
      ...extra,
    });
  }

  router.get('/', signedIn, (ctx) => showPortal(ctx, 200));

  router.post('/', signedIn, requireCsrfToken, async (ctx) => {
    const body = ctx.request.body as Record<string, unknown>;
    const optional = (value: unknown) => formText(value) || undefined;
    await submitForm(
      partnerFormLabels,
      async () => {
        const { partner, clientSecret } = await createPartner(db, deps.hasher, settings.production, {
          name: formText(body.name),
          redirectUris: formLines(body.redirectUris),
          permissions: formList(body.permissions),
          logoUrl: optional(body.logoUrl),
          website: optional(body.website),
          removeUrl: optional(body.removeUrl),
          accountId: ownerOf(ctx).id,
          approved: false,
        });
        showPartner(ctx, 201, partner, { newSecret: clientSecret, notice: 'Integration registered.' });
      },
      (problems) => {
        const form = Object.fromEntries(['name', 'redirectUris', 'logoUrl', 'website', 'removeUrl'].map((name) => [name, formText(body[name])]));
        return showPortal(ctx, 400, { error: `The integration was not registered: ${problems}`, form });
      },
    );
  });

  router.get('/:partnerId', signedIn, ownPartner, (ctx) => showPartner(ctx, 200, ctx.state.partner as PublicPartner));

  router.post('/:partnerId/redirect-uris', signedIn, requireCsrfToken, ownPartner, async (ctx) => {
    const partner = ctx.state.partner as PublicPartner;
    const uris = formLines((ctx.request.body as Record<string, unknown>).redirectUris);
    await submitForm(
      partnerFormLabels,
      async () => showPartner(ctx, 200, await updateRedirectUris(db, partner.id, uris, settings.production), { notice: 'Redirect URLs saved.' }),
      (problems) => showPartner(ctx, 400, partner, { error: `Redirect URLs not saved: ${problems}` }),
    );
  });

  router.post('/:partnerId/rotate-secret', signedIn, requireCsrfToken, ownPartner, async (ctx) => {
    const partner = ctx.state.partner as PublicPartner;
    const { clientSecret } = await rotatePartnerSecret(db, deps.hasher, partner.id, settings.SECRET_ROTATION_GRACE);
    const rotated = (await findPartner(db, partner.id)) as PublicPartner;
    showPartner(ctx, 200, rotated, { newSecret: clientSecret, notice: 'New secret created.' });
  });

  return router;
}
