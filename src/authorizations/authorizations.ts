import type { Knex } from 'knex';
import { newId } from '../db/ids.ts';
import { revokeGrant } from './revoke-grant.ts';

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

/**
 * Records that an owner allowed a partner on an app. A live authorization
 * for the same partner and app is replaced: it takes the new permissions and
 * grant, and whatever the old grant issued stops working.
 */
export async function recordApproval(db: Knex, approval: Approval): Promise<Authorization> {
  return db.transaction(async (trx) => {
    const previous = await trx('authorizations')
      .where({ partner_id: approval.partnerId, app_id: approval.appId })
      .whereNull('revoked_at')
      .forUpdate()
      .first();
    const fields = {
      account_id: approval.accountId,
      grant_id: approval.grantId,
      permissions: JSON.stringify(approval.permissions),
    };
    if (!previous) {
      const [created] = await trx('authorizations')
        .insert({ id: newId(), partner_id: approval.partnerId, app_id: approval.appId, ...fields })
        .returning('*');
      return created as Authorization;
    }
    const [updated] = await trx('authorizations')
      .where({ id: previous.id })
      .update({ ...fields, created_at: trx.fn.now(), last_used_at: null })
      .returning('*');
    await revokeGrant(trx, previous.grant_id);
    return updated as Authorization;
  });
}

export async function findLiveAuthorizationByGrant(db: Knex, grantId: string): Promise<Authorization | undefined> {
  return db('authorizations').where({ grant_id: grantId }).whereNull('revoked_at').first();
}
