import type { Context } from 'koa';
import {
  allInstallationsOfPartner,
  findLiveAuthorization,
  listLiveAuthorizations,
  pageInstallationsOfPartner,
  type Authorization,
  type Installation,
} from '../../authorizations/authorizations.ts';
import type { Knex } from 'knex';
import { findApp } from '../../apps/apps.ts';
import { formText } from '../../http/forms.ts';
import { requestOrigin } from '../../http/origin.ts';
import { PageProblem } from '../../http/problems.ts';
import { renderPage } from '../../http/render.ts';
import { revokeGrant } from '../../oauth/storage/grant-revocation.ts';
import { pageSession } from '../owner-sessions.ts';
import { pagePartner, type PortalDependencies } from './portal.ts';

const pageSize = 100;
const cursor = /^[0-9a-f]{24}$/;

const installationsPath = (partnerId: string) => `/partners/${partnerId}/installations`;

const stateOf = (row: Installation) => (row.partner_suspended_at ? 'suspended' : 'active') as 'active' | 'suspended';

/** GET /partners/{id}/installations: the partner's installations, a hundred at a time. */
export function showInstallations({ db, csrf, flashes }: PortalDependencies) {
  return async (ctx: Context, status = 200, error?: string): Promise<void> => {
    const partner = pagePartner(ctx);
    const after = typeof ctx.query.after === 'string' && cursor.test(ctx.query.after) ? ctx.query.after : undefined;
    const page = await pageInstallationsOfPartner(db, partner.id, { after, size: pageSize });
    renderPage(ctx, status, 'installationsPage', {
      session: pageSession(ctx, csrf),
      partner: { id: partner.id, name: partner.name },
      installations: page.installations.map((row) => ({
        id: row.id,
        appId: row.app_id,
        appName: row.app_name,
        permissions: row.permissions,
        approvedAt: row.created_at,
        lastUsedAt: row.last_used_at,
        lastRefreshAt: row.last_refreshed_at,
        state: stateOf(row),
      })),
      nextAfter: page.hasMore ? page.installations.at(-1)?.id : undefined,
      notice: (await flashes.take(ctx, installationsPath(partner.id))).map((flash) => flash.notice).join(' ') || undefined,
      error,
    });
  };
}

const csvColumns = ['installation_id', 'app_id', 'app_name', 'permissions', 'approved_at', 'last_used_at', 'last_refresh_at', 'state'];

/** One CSV field: quoted when it must be, and never read as a formula by a spreadsheet. */
function csvField(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

const isoOrEmpty = (value: Date | null) => (value ? new Date(value).toISOString() : '');

/** GET /partners/{id}/installations.csv: every installation, one line each. */
export function exportInstallations({ db }: PortalDependencies) {
  return async (ctx: Context): Promise<void> => {
    const partner = pagePartner(ctx);
    const lines = [csvColumns.join(',')];
    for await (const row of allInstallationsOfPartner(db, partner.id)) {
      const fields = [row.id, row.app_id, row.app_name, row.permissions.join(' '), isoOrEmpty(row.created_at), isoOrEmpty(row.last_used_at), isoOrEmpty(row.last_refreshed_at), stateOf(row)];
      lines.push(fields.map(csvField).join(','));
    }
    ctx.set('Cache-Control', 'no-store');
    ctx.set('Content-Disposition', `attachment; filename="installations-${partner.id}.csv"`);
    ctx.type = 'text/csv; charset=utf-8';
    ctx.body = `${lines.join('\r\n')}\r\n`;
  };
}

/** The partner's own live installation named in the path; another partner's is not found. */
async function ownInstallation(db: Knex, ctx: Context): Promise<Authorization> {
  const authorization = await findLiveAuthorization(db, ctx.params.authorizationId as string);
  if (!authorization || authorization.partner_id !== pagePartner(ctx).id) {
    throw new PageProblem(404, 'Installation not found', 'This integration has no such installation; it may have been removed already.');
  }
  return authorization;
}

/** GET /partners/{id}/installations/{authorizationId}/remove: what Remove will do, before it is done. */
export function confirmInstallationRemoval({ db, csrf }: PortalDependencies) {
  return async (ctx: Context): Promise<void> => {
    const partner = pagePartner(ctx);
    const authorization = await ownInstallation(db, ctx);
    const app = await findApp(db, authorization.app_id);
    const appName = app?.display_name ?? authorization.app_id;
    renderPage(ctx, 200, 'confirmPage', {
      session: pageSession(ctx, csrf),
      question: `Remove ${partner.name} from ${appName}?`,
      consequences: [
        `${partner.name} will lose access to ${appName} now: every token it holds for this app stops working.`,
        'The owner would have to add it again to give it access back. You will receive the removal notice.',
      ],
      action: `/partners/${partner.id}/installations/${authorization.id}/remove`,
      confirmLabel: `Remove from ${appName}`,
      cancelHref: `/partners/${partner.id}/installations`,
    });
  };
}

/** POST /partners/{id}/installations/{authorizationId}/remove: another partner's installation is not found; the list then names what was removed. */
export function removeInstallation({ db, flashes }: PortalDependencies) {
  return async (ctx: Context): Promise<void> => {
    const partner = pagePartner(ctx);
    const authorization = await ownInstallation(db, ctx);
    const appName = (await findApp(db, authorization.app_id))?.display_name ?? authorization.app_id;
    await revokeGrant(db, authorization.grant_id, { cause: 'partner', actor: { type: 'partner', id: partner.id }, origin: requestOrigin(ctx) });
    await flashes.redirect(ctx, installationsPath(partner.id), { notice: `${partner.name} was removed from ${appName}. Its tokens for that app no longer work.` });
  };
}

/** POST /partners/{id}/installations/remove-all: every installation, in one transaction, once the name is typed. */
export function removeAllInstallations(deps: PortalDependencies) {
  const show = showInstallations(deps);
  return async (ctx: Context): Promise<void> => {
    const partner = pagePartner(ctx);
    if (formText((ctx.request.body as Record<string, unknown>).confirm) !== partner.name) {
      return show(ctx, 400, `Nothing was removed: type the integration's name, ${partner.name}, to confirm.`);
    }
    const ending = { cause: 'partner' as const, actor: { type: 'partner' as const, id: partner.id }, origin: requestOrigin(ctx) };
    const removed = await deps.db.transaction(async (trx) => {
      const live = await listLiveAuthorizations(trx, { partnerId: partner.id });
      for (const authorization of live) await revokeGrant(trx, authorization.grant_id, ending);
      return live.length;
    });
    await deps.flashes.redirect(ctx, installationsPath(partner.id), {
      notice: `${partner.name} was removed from all ${removed} app${removed === 1 ? '' : 's'} it was installed on. Their tokens no longer work.`,
    });
  };
}
