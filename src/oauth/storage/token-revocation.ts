import type { Knex } from 'knex';
import { listLiveAuthorizations } from '../../authorizations/authorizations.ts';
import { revokeKeysOfAuthorizations } from '../../credentials/api-keys.ts';
import { recordEvent, type Actor } from '../../events/events.ts';
import { enqueueNotices } from '../../notices/outbox.ts';
import { forgetRequestReads } from './request-reads.ts';
import { revokeGrant } from './grant-revocation.ts';
import { markPartnerDeleted } from '../../partners/partner-changes.ts';

/** Records that hold a credential issued under a grant; the grant itself (the approval) is not among them. */
const issuedKinds = ['AccessToken', 'RefreshToken', 'AuthorizationCode'];

/** Why every token of a partner ended: a short code, e.g. secret_leak; shown to owners and sent to the partner. */
export const tokenRevocationReason = /^[a-z][a-z0-9_]{0,63}$/;

/**
 * Ends every token a partner holds, on every app, and keeps every approval:
 * in one transaction the access and refresh tokens and unused codes of its
 * live authorizations are deleted, the API keys it created with them are
 * revoked, each authorization records `authorization.tokens_revoked` with the
 * reason, and the partner is sent one notice per authorization. The
 * authorizations and grants stay, so an owner's next approval of the partner
 * continues them. Returns how many authorizations it touched.
 */
export async function endTokensOfPartner(db: Knex, partnerId: string, reason: string, actor: Actor): Promise<number> {
  if (!tokenRevocationReason.test(reason)) throw new Error(`not a reason code: ${reason}`);
  const ended = await db.transaction(async (trx) => {
    const live = await listLiveAuthorizations(trx, { partnerId });
    if (!live.length) return live;
    await trx('oauth_records').whereIn('kind', issuedKinds).whereIn('grant_id', live.map((authorization) => authorization.grant_id)).delete();
    await revokeKeysOfAuthorizations(trx, live.map((authorization) => authorization.id));
    for (const authorization of live) {
      await recordEvent(trx, {
        type: 'authorization.tokens_revoked',
        actor,
        accountId: authorization.account_id,
        appId: authorization.app_id,
        partnerId,
        target: { type: 'authorization', id: authorization.id },
        cause: reason,
      });
    }
    const notices = live.map((authorization) => ({ partnerId, appId: authorization.app_id, authorizationId: authorization.id, data: { reason } }));
    await enqueueNotices(trx, 'integration.tokens_revoked', notices);
    return live;
  });
  forgetRequestReads();
  return ended.length;
}

/**
 * Deletes an integration: in one transaction every live authorization ends
 * (each reported to the partner as removed, cause partner_deleted, and
 * recorded) and the partner is marked deleted, so nothing can authenticate
 * as it again. False when there is no such integration.
 */
export async function deleteIntegration(db: Knex, partnerId: string, actor: Actor): Promise<boolean> {
  return db.transaction(async (trx) => {
    const exists = await trx('partners').where({ id: partnerId, role: 'partner' }).whereNull('deleted_at').forUpdate().first('id');
    if (!exists) return false;
    for (const authorization of await listLiveAuthorizations(trx, { partnerId })) {
      await revokeGrant(trx, authorization.grant_id, { cause: 'partner_deleted', actor });
    }
    return markPartnerDeleted(trx, partnerId, actor);
  });
}
