import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import { runStatement, statement } from '../db/statements.ts';

const recordUse = statement(
  'used_proof_record',
  'insert into used_proofs (id, expires_at) values ($1, $2) on conflict (id) do nothing returning id',
);

/**
 * Records the first use of a one-time proof; false when it was used before,
 * on this instance or any other. The insert is the check, so two instances
 * racing with the same proof cannot both succeed.
 */
export async function isFirstUse(db: Knex, scope: string, id: string, expiresAt: Date): Promise<boolean> {
  const key = createHash('sha256').update(`${scope}\0${id}`).digest('base64url');
  const inserted = await runStatement(db, recordUse, [key, expiresAt]);
  return inserted.length === 1;
}
