import type { Knex } from 'knex';
import { liveGrantIdsOfApp, markGrantRevoked } from '../../authorizations/authorizations.ts';
import { deleteAppRow } from '../../apps/apps.ts';
import { revokeKeysOfAuthorizations } from '../../credentials/api-keys.ts';
import { enqueueRemovalNotices } from '../../notices/removal-notices.ts';
import { forgetRequestReads } from './request-reads.ts';

/** Record kinds tied to a grant: what must die with it. */
const grantBoundKinds = ['AccessToken', 'RefreshToken', 'AuthorizationCode'];

/**
 * The one way an authorization ends, whatever asked for it (the owner's
 * dashboard, the partner's DELETE /oauth/authorization or RFC 7009 revoke, a
 * replayed code, the operator, a deleted app): in one transaction, the grant
 * and everything issued under it are deleted, the authorization is marked
 * revoked, the API keys the partner created with its tokens are revoked, and
 * the partner's removal notice is queued. After it commits, no instance can
 * find a token of that grant, nor use a key minted under it.
 */
export async function revokeGrant(db: Knex, grantId: string): Promise<void> {
  await db.transaction(async (trx) => {
    await trx('oauth_records').whereIn('kind', grantBoundKinds).andWhere({ grant_id: grantId }).delete();
    await trx('oauth_records').where({ kind: 'Grant', id: grantId }).delete();
    const ended = await markGrantRevoked(trx, grantId);
    await revokeKeysOfAuthorizations(trx, ended.map((authorization) => authorization.id));
    await enqueueRemovalNotices(trx, ended);
  });
  forgetRequestReads();
}

/** Deletes an app with its keys and authorizations; every token issued for it stops working. */
export async function deleteAppWithItsGrants(db: Knex, appId: string): Promise<void> {
  await db.transaction(async (trx) => {
    for (const grantId of await liveGrantIdsOfApp(trx, appId)) await revokeGrant(trx, grantId);
    await deleteAppRow(trx, appId);
  });
}
