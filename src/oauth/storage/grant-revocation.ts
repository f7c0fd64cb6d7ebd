import type { Knex } from 'knex';
import { liveGrantIdsOfApp, markGrantRevoked } from '../../authorizations/authorizations.ts';
import { deleteAppRow } from '../../apps/apps.ts';
import { revokeKeysOfAuthorizations } from '../../credentials/api-keys.ts';
import { enqueueRemovalNotices } from '../../notices/removal-notices.ts';
import { recordEvent, type Actor, type Origin } from '../../events/events.ts';
import { findPartner } from '../../partners/partners.ts';
import { findApp } from '../../apps/apps.ts';
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
export async function revokeGrant(db: Knex, grantId: string, ending: GrantEnding): Promise<void> {
  await db.transaction(async (trx) => {
    await trx('oauth_records').whereIn('kind', grantBoundKinds).andWhere({ grant_id: grantId }).delete();
    await trx('oauth_records').where({ kind: 'Grant', id: grantId }).delete();
    const ended = await markGrantRevoked(trx, grantId);
    await revokeKeysOfAuthorizations(trx, ended.map((authorization) => authorization.id));
    await enqueueRemovalNotices(trx, ended, ending.cause);
    for (const authorization of ended) await recordRemoval(trx, authorization, ending);
  });
  forgetRequestReads();
}

/** Why an authorization ended, for its audit event (and who ended it; by default the partner for its own causes, else appgrant). */
export interface GrantEnding {
  cause: 'owner' | 'partner' | 'partner_revoke' | 'code_replay' | 'refresh_replay' | 'app_deleted' | 'operator' | 'partner_deleted';
  actor?: Actor | undefined;
  origin?: Origin | undefined;
}

async function recordRemoval(
  trx: Knex.Transaction,
  authorization: { id: string; partner_id: string; app_id: string; account_id: string },
  ending: GrantEnding,
): Promise<void> {
  const [partner, app] = await Promise.all([findPartner(trx, authorization.partner_id), findApp(trx, authorization.app_id)]);
  const byPartner = ending.cause === 'partner' || ending.cause === 'partner_revoke';
  await recordEvent(trx, {
    type: 'authorization.removed',
    actor: ending.actor ?? (byPartner ? { type: 'partner', id: authorization.partner_id } : { type: 'system' }),
    accountId: authorization.account_id,
    appId: authorization.app_id,
    partnerId: authorization.partner_id,
    target: { type: 'authorization', id: authorization.id },
    origin: ending.origin,
    cause: ending.cause,
    detail: { partnerName: partner?.name, appName: app?.display_name },
  });
}

/** Deletes an app with its keys and authorizations; every token issued for it stops working. */
export async function deleteAppWithItsGrants(db: Knex, appId: string, by: { actor: Actor; origin?: Origin | undefined }): Promise<void> {
  await db.transaction(async (trx) => {
    for (const grantId of await liveGrantIdsOfApp(trx, appId)) await revokeGrant(trx, grantId, { cause: 'app_deleted', ...by });
    await deleteAppRow(trx, appId);
  });
}
