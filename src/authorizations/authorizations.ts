import type { Knex } from 'knex';
import { newId } from '../db/ids.ts';

/**
 * The record that an app owner allowed a partner on an app, with which
 * permissions, and whether it ended. Every query on the `authorizations`
 * table is in this module; "live" means not revoked.
 */
export interface Authorization {
  id: string;
  partner_id: string;
  app_id: string;
  account_id: string;
  grant_id: string;
  permissions: string[];
  created_at: Date;
  last_used_at: Date | null;
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
}

/** The one definition of a live authorization. */
const live = (db: Knex, alias = 'authorizations') => db(alias === 'authorizations' ? 'authorizations' : `authorizations as ${alias}`).whereNull(`${alias}.revoked_at`);

/**
 * Records that an owner allowed a partner on an app: a new authorization,
 * or the live one of the same partner and app taking the new permissions and
 * grant. Returns the grant it replaced, for the caller to end in the same
 * transaction.
 */
export async function upsertApproval(trx: Knex.Transaction, approval: Approval): Promise<{ authorization: Authorization; replacedGrantId?: string }> {
  const previous: Authorization | undefined = await live(trx).where({ partner_id: approval.partnerId, app_id: approval.appId }).forUpdate().first();
  const fields = { account_id: approval.accountId, grant_id: approval.grantId, permissions: JSON.stringify(approval.permissions) };
  if (!previous) {
    const [created] = await trx('authorizations').insert({ id: newId(), partner_id: approval.partnerId, app_id: approval.appId, ...fields }).returning('*');
    return { authorization: created as Authorization };
  }
  const [updated] = await trx('authorizations')
    .where({ id: previous.id })
    .update({ ...fields, created_at: trx.fn.now(), last_used_at: null })
    .returning('*');
  return { authorization: updated as Authorization, replacedGrantId: previous.grant_id };
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

/** Live authorizations, oldest first, optionally of one app and/or one partner. */
export async function listLiveAuthorizations(db: Knex, filter: { appId?: string | undefined; partnerId?: string | undefined } = {}): Promise<Authorization[]> {
  const query = live(db).select('*').orderBy('created_at');
  if (filter.appId !== undefined) query.andWhere({ app_id: filter.appId });
  if (filter.partnerId !== undefined) query.andWhere({ partner_id: filter.partnerId });
  return query;
}

/** The integrations connected to an app, with their partners' names and logos, oldest first. */
export async function listConnectedIntegrations(db: Knex, appId: string): Promise<ConnectedIntegration[]> {
  return live(db, 'a')
    .join('partners as p', 'p.id', 'a.partner_id')
    .select('a.*', 'p.name as partner_name', 'p.logo_url as partner_logo_url')
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
export async function markGrantRevoked(trx: Knex.Transaction, grantId: string): Promise<(Pick<Authorization, 'id' | 'partner_id' | 'app_id'> & { revoked_at: Date })[]> {
  return live(trx).where({ grant_id: grantId }).update({ revoked_at: trx.fn.now() }).returning(['id', 'partner_id', 'app_id', 'revoked_at']);
}
