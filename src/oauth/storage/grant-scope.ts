import type { Knex } from 'knex';
import { forgetRequestReads } from './request-reads.ts';

/**
 * Gives a grant, and every token already issued under it, a new scope on one
 * resource, inside the caller's transaction: the `resources` entry of the
 * engine's Grant record and the `scope` of each access and refresh token. The
 * engine reads both back as it wrote them, so introspection, refresh and the
 * API all see the new scope from the next request on.
 */
export async function rescopeGrant(trx: Knex.Transaction, grantId: string, resource: string, scope: string): Promise<void> {
  await trx('oauth_records')
    .where({ kind: 'Grant', id: grantId })
    .update({ payload: trx.raw(`jsonb_set(payload, '{resources}', coalesce(payload->'resources', '{}'::jsonb) || jsonb_build_object(?::text, ?::text))`, [resource, scope]) });
  await trx('oauth_records')
    .whereIn('kind', ['AccessToken', 'RefreshToken'])
    .andWhere({ grant_id: grantId })
    .update({ payload: trx.raw(`jsonb_set(payload, '{scope}', to_jsonb(?::text))`, [scope]) });
  forgetRequestReads();
}

/** Deletes a grant that was never handed to the engine (its approval lost a race to another). */
export async function discardUnusedGrant(db: Knex, grantId: string): Promise<void> {
  await db('oauth_records').where({ kind: 'Grant', id: grantId }).delete();
}
