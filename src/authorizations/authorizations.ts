import type { Knex } from 'knex';
import { newId } from '../db/ids.ts';

/**
 * The record that an app owner allowed a partner on an app, with which
 * permissions, and whether it ended. Every query on the `authorizations`
 * table is in this module, but for the retention sweep's deletion of ended
 * ones (src/retention); "live" means not revoked.
 */
export interface Authorization {
  id: string;
  partner_id: string;
  app_id: string;
  account_id: string;
  grant_id: string;
  permissions: string[];
  created_at: Date;
  /** When a later approval last changed the permissions. */
  updated_at: Date | null;
  last_used_at: Date | null;
  /** When the partner last exchanged a refresh token for it. */
  last_refreshed_at: Date | null;
  /** Permissions the partner asked for later that the owner declined. */
  declined_permissions: string[];
  revoked_at: Date | null;
}

export interface Approval {
  partnerId: string;
  appId: string;
  accountId: string;
  grantId: string;
  permissions: string[];
}

/** A live authorization with what a page or report shows of its partner. */
export interface ConnectedIntegration extends Authorization {
  partner_name: string;
  partner_logo_url: string | null;
  /** When the operator suspended the partner, if it is suspended now. */
  partner_suspended_at: Date | null;
  /** What the partner asks for now, and its note on why. */
  partner_permissions: string[];
  partner_access_note: string | null;
}

/** Permissions the partner asks for now that this authorization neither holds nor has declined: its request for more access. */
export function moreAccessAsked(row: Pick<ConnectedIntegration, 'permissions' | 'declined_permissions' | 'partner_permissions'>): string[] {
  return row.partner_permissions.filter((name) => !row.permissions.includes(name) && !row.declined_permissions.includes(name));
}

/** The one definition of a live authorization. */
const live = (db: Knex, alias = 'authorizations') => db(alias === 'authorizations' ? 'authorizations' : `authorizations as ${alias}`).whereNull(`${alias}.revoked_at`);

/**
 * Records an owner's first approval of a partner on an app, unless the pair
 * already has a live authorization: then nothing is written and the answer is
 * undefined. The unique index on live pairs decides between concurrent first
 * approvals, so exactly one of them creates the authorization.
 */
export async function insertFirstApproval(db: Knex, approval: Approval): Promise<Authorization | undefined> {
  const [created] = await db('authorizations')
    .insert({
      id: newId(),
      partner_id: approval.partnerId,
      app_id: approval.appId,
      account_id: approval.accountId,
      grant_id: approval.grantId,
      permissions: JSON.stringify(approval.permissions),
    })
    .onConflict(db.raw('(partner_id, app_id) where revoked_at is null'))
    .ignore()
    .returning('*');
  return created as Authorization | undefined;
}

/** The live authorization of a partner on an app, locked until the transaction ends. */
export async function lockLiveAuthorizationOfPartnerOnApp(trx: Knex.Transaction, partnerId: string, appId: string): Promise<Authorization | undefined> {
  return live(trx).where({ partner_id: partnerId, app_id: appId }).forUpdate().first();
}

/** A live authorization by id, locked until the transaction ends. */
export async function lockLiveAuthorization(trx: Knex.Transaction, id: string): Promise<Authorization | undefined> {
  return live(trx).where({ id }).forUpdate().first();
}

/** A new approval's permissions for a live authorization; its approval date stays, updated_at says when. */
export async function updateApprovedPermissions(trx: Knex.Transaction, id: string, permissions: string[]): Promise<Authorization> {
  const [updated] = await trx('authorizations')
    .where({ id })
    .update({ permissions: JSON.stringify(permissions), updated_at: trx.fn.now() })
    .returning('*');
  return updated as Authorization;
}

export async function findLiveAuthorizationByGrant(db: Knex, grantId: string): Promise<Authorization | undefined> {
  return live(db).where({ grant_id: grantId }).first();
}

/** A live authorization by id, optionally only if it is on the given app. */
export async function findLiveAuthorization(db: Knex, id: string, appId?: string): Promise<Authorization | undefined> {
  return live(db).where({ id, ...(appId !== undefined ? { app_id: appId } : {}) }).first();
}

export async function findLiveAuthorizationOfPartnerOnApp(db: Knex, partnerId: string, appId: string): Promise<Authorization | undefined> {
  return live(db).where({ partner_id: partnerId, app_id: appId }).first();
}

/** Live authorizations, oldest first, optionally of one app, one partner and/or one account. */
export async function listLiveAuthorizations(
  db: Knex,
  filter: { appId?: string | undefined; partnerId?: string | undefined; accountId?: string | undefined } = {},
): Promise<Authorization[]> {
  const query = live(db).select('*').orderBy('created_at');
  if (filter.appId !== undefined) query.andWhere({ app_id: filter.appId });
  if (filter.partnerId !== undefined) query.andWhere({ partner_id: filter.partnerId });
  if (filter.accountId !== undefined) query.andWhere({ account_id: filter.accountId });
  return query;
}

const connectedColumns = ['a.*', 'p.name as partner_name', 'p.logo_url as partner_logo_url', 'p.suspended_at as partner_suspended_at', 'p.permissions as partner_permissions', 'p.access_note as partner_access_note'];

/** An account's live authorizations whose partner asks for more access, with the app's name. */
export async function listMoreAccessRequests(db: Knex, accountId: string): Promise<(ConnectedIntegration & { app_name: string })[]> {
  const rows: (ConnectedIntegration & { app_name: string })[] = await live(db, 'a')
    .join('partners as p', 'p.id', 'a.partner_id')
    .join('apps', 'apps.id', 'a.app_id')
    .select([...connectedColumns, 'apps.display_name as app_name'])
    .where('a.account_id', accountId)
    .orderBy('a.created_at');
  return rows.filter((row) => moreAccessAsked(row).length > 0);
}

/** The integrations connected to an app, with their partners' names and logos, oldest first. */
export async function listConnectedIntegrations(db: Knex, appId: string): Promise<ConnectedIntegration[]> {
  return live(db, 'a')
    .join('partners as p', 'p.id', 'a.partner_id')
    .select(connectedColumns)
    .where('a.app_id', appId)
    .orderBy('a.created_at');
}

/** How many live authorizations each of these apps has. */
export async function countLiveAuthorizationsByApp(db: Knex, appIds: string[]): Promise<Map<string, number>> {
  const rows: { app_id: string; n: string | number }[] = await live(db).select('app_id').count({ n: '*' }).whereIn('app_id', appIds).groupBy('app_id');
  return new Map(rows.map((row) => [row.app_id, Number(row.n)]));
}

/** The grants of an app's live authorizations. */
export async function liveGrantIdsOfApp(db: Knex, appId: string): Promise<string[]> {
  return live(db).where({ app_id: appId }).pluck('grant_id');
}

/** Marks the live authorization of a grant revoked; returns what it revoked (nothing when it had already ended). */
export async function markGrantRevoked(trx: Knex.Transaction, grantId: string): Promise<(Pick<Authorization, 'id' | 'partner_id' | 'app_id' | 'account_id'> & { revoked_at: Date })[]> {
  return live(trx).where({ grant_id: grantId }).update({ revoked_at: trx.fn.now() }).returning(['id', 'partner_id', 'app_id', 'account_id', 'revoked_at']);
}

/** One of a partner's installations as its list shows it: the authorization, its app's name, and whether the partner is suspended. */
export interface Installation extends Authorization {
  app_name: string;
  partner_suspended_at: Date | null;
}

export interface InstallationPage {
  installations: Installation[];
  hasMore: boolean;
}

/**
 * One page of a partner's live authorizations in id order, after or before a
 * cursor (an authorization id), with their apps' names; only the partner's
 * own, whatever the cursor names.
 */
export async function pageInstallationsOfPartner(
  db: Knex,
  partnerId: string,
  page: { after?: string | undefined; before?: string | undefined; size: number },
): Promise<InstallationPage> {
  const query = live(db, 'a')
    .join('apps', 'apps.id', 'a.app_id')
    .join('partners as p', 'p.id', 'a.partner_id')
    .select('a.*', 'apps.display_name as app_name', 'p.suspended_at as partner_suspended_at')
    .where('a.partner_id', partnerId)
    .limit(page.size + 1);
  if (page.before !== undefined) {
    const rows: Installation[] = await query.andWhere('a.id', '<', page.before).orderBy('a.id', 'desc');
    return { installations: rows.slice(0, page.size).reverse(), hasMore: rows.length > page.size };
  }
  if (page.after !== undefined) query.andWhere('a.id', '>', page.after);
  const rows: Installation[] = await query.orderBy('a.id', 'asc');
  return { installations: rows.slice(0, page.size), hasMore: rows.length > page.size };
}

/** Every live authorization of a partner, for its export, in id order, a page at a time. */
export async function* allInstallationsOfPartner(db: Knex, partnerId: string, pageSize = 500): AsyncGenerator<Installation> {
  let after: string | undefined;
  for (;;) {
    const page = await pageInstallationsOfPartner(db, partnerId, { after, size: pageSize });
    yield* page.installations;
    if (!page.hasMore) return;
    after = page.installations.at(-1)?.id;
  }
}

/** Sets what an authorization declined (or was never granted), in the caller's transaction. */
export async function addDeclinedPermissions(trx: Knex.Transaction, id: string, declined: string[]): Promise<void> {
  await trx('authorizations').where({ id }).update({ declined_permissions: JSON.stringify([...new Set(declined)]) });
}
