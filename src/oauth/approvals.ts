import type { Knex } from 'knex';
import type { Provider } from 'oidc-provider';
import {
  addDeclinedPermissions,
  insertFirstApproval,
  listLiveAuthorizations,
  lockLiveAuthorization,
  lockLiveAuthorizationOfPartnerOnApp,
  moreAccessAsked,
  updateApprovedPermissions,
} from '../authorizations/authorizations.ts';
import { normalizePermissions } from '../permissions/catalog.ts';
import { discardUnusedGrant, rescopeGrant } from './storage/grant-scope.ts';
import { recordEvent, type Actor, type Origin } from '../events/events.ts';
import { enqueueNotices, type NoticeInput } from '../notices/outbox.ts';

export interface ApprovalRequest {
  partnerId: string;
  appId: string;
  accountId: string;
  permissions: string[];
  /** The resource indicator the permissions are granted on (the platform API). */
  resource: string;
  /** For the audit trail: the names the owner saw, and where the approval came from. */
  partnerName: string;
  appName: string;
  origin: Origin;
}

/** How often an approval retries when the authorization it raced with was removed in between. */
const attempts = 3;

/**
 * Records an owner's approval of a partner on an app and returns the grant
 * the engine issues the code under. A (partner, app) pair has one
 * authorization: the first approval creates it with a new grant; a later one
 * gives the same authorization and grant the new permissions, and the tokens
 * already issued under it keep working with them. Concurrent first approvals
 * meet at the unique index of live pairs: one creates the authorization, the
 * others drop the grant they made and update the one it created.
 */
export async function recordApproval(db: Knex, provider: Provider, request: ApprovalRequest): Promise<string> {
  for (let attempt = 1; ; attempt += 1) {
    const existing = await updateLiveApproval(db, request);
    if (existing) return existing;
    const grantId = await newGrant(provider, request);
    if (await insertFirstApprovalRecorded(db, { ...request, grantId })) return grantId;
    await discardUnusedGrant(db, grantId);
    if (attempt === attempts) throw new Error(`the approval of ${request.partnerId} on ${request.appId} kept racing with its removal`);
  }
}

/** The live authorization's grant, after giving both the request's permissions; undefined when the pair has none. */
async function updateLiveApproval(db: Knex, request: ApprovalRequest): Promise<string | undefined> {
  return db.transaction(async (trx) => {
    const live = await lockLiveAuthorizationOfPartnerOnApp(trx, request.partnerId, request.appId);
    if (!live) return undefined;
    await updateApprovedPermissions(trx, live.id, request.permissions);
    await rescopeGrant(trx, live.grant_id, request.resource, request.permissions.join(' '));
    await recordApprovalEvent(trx, 'authorization.updated', live.id, request);
    await settleWhatWasNotAsked(trx, live.id, request);
    if (!samePermissions(live.permissions, request.permissions)) {
      await enqueueNotices(trx, 'integration.updated', [approvalNotice(live.id, request, { previousPermissions: live.permissions })]);
    }
    return live.grant_id;
  });
}

/** The first approval of the pair and its event, together; false when another approval created the pair first. */
async function insertFirstApprovalRecorded(db: Knex, request: ApprovalRequest & { grantId: string }): Promise<boolean> {
  return db.transaction(async (trx) => {
    const created = await insertFirstApproval(trx, request);
    if (created) {
      await recordApprovalEvent(trx, 'authorization.approved', created.id, request);
      await settleWhatWasNotAsked(trx, created.id, request);
      await enqueueNotices(trx, 'integration.added', [approvalNotice(created.id, request)]);
    }
    return created !== undefined;
  });
}

async function recordApprovalEvent(trx: Knex.Transaction, type: 'authorization.approved' | 'authorization.updated', authorizationId: string, request: ApprovalRequest): Promise<void> {
  await recordEvent(trx, {
    type,
    actor: { type: 'owner', id: request.accountId },
    accountId: request.accountId,
    appId: request.appId,
    partnerId: request.partnerId,
    target: { type: 'authorization', id: authorizationId },
    origin: request.origin,
    detail: { permissions: request.permissions, partnerName: request.partnerName, appName: request.appName },
  });
}

/**
 * What the partner registers but this approval did not grant (the partner
 * asked for less, or the owner left it out) is not a request for more
 * access: only what the partner adds later is asked on the dashboard.
 */
async function settleWhatWasNotAsked(trx: Knex.Transaction, authorizationId: string, request: ApprovalRequest): Promise<void> {
  const partner = await trx('partners').select('permissions').where({ id: request.partnerId }).first();
  const notGranted = ((partner?.permissions ?? []) as string[]).filter((name) => !request.permissions.includes(name));
  await addDeclinedPermissions(trx, authorizationId, notGranted);
}

/** The partner's notice of an approval: which app, which authorization, and the permissions it now holds there. */
function approvalNotice(authorizationId: string, request: ApprovalRequest, extra: Record<string, unknown> = {}): NoticeInput {
  return { partnerId: request.partnerId, appId: request.appId, authorizationId, data: { permissions: request.permissions, ...extra } };
}

const samePermissions = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((name) => b.includes(name));

async function newGrant(provider: Provider, request: ApprovalRequest): Promise<string> {
  const grant = new provider.Grant({ accountId: request.accountId, clientId: request.partnerId });
  grant.addResourceScope(request.resource, request.permissions.join(' '));
  return grant.save();
}

/**
 * Permissions a partner no longer asks for leave every installation at once:
 * each live authorization holding one is narrowed to what the partner still
 * registers, its grant and issued tokens rescoped (src/oauth/storage/grant-scope.ts),
 * so the next request with any of its tokens is refused them; each narrowing
 * is recorded and the partner notified. Inside the caller's transaction;
 * nothing happens where nothing exceeds. Returns how many it narrowed.
 */
export async function narrowToRegistered(trx: Knex.Transaction, partnerId: string, registered: readonly string[], resource: string, actor: Actor): Promise<number> {
  let narrowed = 0;
  for (const authorization of await listLiveAuthorizations(trx, { partnerId })) {
    const kept = authorization.permissions.filter((name) => registered.includes(name));
    if (kept.length === authorization.permissions.length) continue;
    await updateApprovedPermissions(trx, authorization.id, kept);
    await rescopeGrant(trx, authorization.grant_id, resource, kept.join(' '));
    await recordEvent(trx, {
      type: 'authorization.updated',
      actor,
      accountId: authorization.account_id,
      appId: authorization.app_id,
      partnerId,
      target: { type: 'authorization', id: authorization.id },
      cause: 'permissions_removed',
      detail: { permissions: kept },
    });
    const notice = { partnerId, appId: authorization.app_id, authorizationId: authorization.id, data: { permissions: kept, previousPermissions: authorization.permissions } };
    await enqueueNotices(trx, 'integration.updated', [notice]);
    narrowed += 1;
  }
  return narrowed;
}

/**
 * An owner's answer to a partner's request for more access on one app,
 * without the OAuth flow: approving adds what the partner asks for now to
 * the authorization and rescopes its grant and tokens, so tokens already
 * issued gain it on their next request; declining records it as declined and
 * changes nothing else. Either way the partner is notified and the answer
 * recorded. 'nothing' when the partner asks for nothing new there.
 */
export async function answerMoreAccess(
  db: Knex,
  authorizationId: string,
  decision: 'approve' | 'decline',
  by: { actor: Actor; origin?: Origin | undefined; resource: string },
): Promise<'approved' | 'declined' | 'nothing'> {
  return db.transaction(async (trx) => {
    const authorization = await lockLiveAuthorization(trx, authorizationId);
    const partner = authorization && (await trx('partners').select('permissions', 'name').where({ id: authorization.partner_id }).first());
    const asked = authorization && partner ? moreAccessAsked({ ...authorization, partner_permissions: partner.permissions }) : [];
    if (!authorization || !asked.length) return 'nothing';
    const previous = authorization.permissions;
    const permissions = decision === 'approve' ? normalizePermissions([...previous, ...asked]) : previous;
    if (decision === 'approve') {
      await updateApprovedPermissions(trx, authorization.id, permissions);
      await rescopeGrant(trx, authorization.grant_id, by.resource, permissions.join(' '));
    } else {
      await addDeclinedPermissions(trx, authorization.id, [...authorization.declined_permissions, ...asked]);
    }
    const about = { accountId: authorization.account_id, appId: authorization.app_id, partnerId: authorization.partner_id, target: { type: 'authorization' as const, id: authorization.id } };
    await recordEvent(trx, {
      type: decision === 'approve' ? 'authorization.updated' : 'authorization.more_access_declined',
      actor: by.actor,
      origin: by.origin,
      ...about,
      cause: decision === 'approve' ? 'more_access_approved' : undefined,
      detail: { partnerName: partner.name, permissions: decision === 'approve' ? permissions : asked },
    });
    const notice = { partnerId: authorization.partner_id, appId: authorization.app_id, authorizationId: authorization.id };
    if (decision === 'approve') await enqueueNotices(trx, 'integration.updated', [{ ...notice, data: { permissions, previousPermissions: previous } }]);
    else await enqueueNotices(trx, 'integration.more_access_declined', [{ ...notice, data: { permissions, declined: asked } }]);
    return decision === 'approve' ? 'approved' : 'declined';
  });
}

/**
 * The owner narrows an authorization from the dashboard: it keeps only the
 * permissions chosen (of those it holds), its grant and tokens are rescoped
 * at once, what was taken away counts as declined (the partner does not get
 * to ask for it again by itself), and the partner is notified. Refused
 * (undefined) when the choice keeps nothing or adds something.
 */
export async function narrowAuthorization(
  db: Knex,
  authorizationId: string,
  keep: readonly string[],
  by: { actor: Actor; origin?: Origin | undefined; resource: string },
): Promise<string[] | undefined> {
  return db.transaction(async (trx) => {
    const authorization = await lockLiveAuthorization(trx, authorizationId);
    if (!authorization || !keep.length || keep.some((name) => !authorization.permissions.includes(name))) return undefined;
    const permissions = authorization.permissions.filter((name) => keep.includes(name));
    if (permissions.length === authorization.permissions.length) return permissions;
    await updateApprovedPermissions(trx, authorization.id, permissions);
    await rescopeGrant(trx, authorization.grant_id, by.resource, permissions.join(' '));
    const removed = authorization.permissions.filter((name) => !keep.includes(name));
    await addDeclinedPermissions(trx, authorization.id, [...authorization.declined_permissions, ...removed]);
    const about = { accountId: authorization.account_id, appId: authorization.app_id, partnerId: authorization.partner_id };
    await recordEvent(trx, {
      type: 'authorization.updated', actor: by.actor, origin: by.origin, ...about,
      target: { type: 'authorization', id: authorization.id }, cause: 'narrowed_by_owner', detail: { permissions },
    });
    const notice = { partnerId: authorization.partner_id, appId: authorization.app_id, authorizationId: authorization.id };
    await enqueueNotices(trx, 'integration.updated', [{ ...notice, data: { permissions, previousPermissions: authorization.permissions } }]);
    return permissions;
  });
}
