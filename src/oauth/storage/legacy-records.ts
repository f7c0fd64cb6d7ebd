import type { Knex } from 'knex';
import { secretKinds, storedPayload, type RecordIds } from './record-ids.ts';

const batchSize = 500;

/**
 * Records an earlier version wrote with the secret itself as their id are
 * rewritten under its digest, their payload without it, so they keep
 * working and a copy of the table no longer hands them out. Idempotent,
 * and safe with several instances starting at once: each row is rewritten
 * only while it is still marked as not digested.
 */
export async function digestLegacyRecords(db: Knex, ids: RecordIds): Promise<number> {
  let converted = 0;
  for (;;) {
    const rows: { kind: string; id: string; payload: Record<string, unknown> }[] = await db('oauth_records')
      .select('kind', 'id', 'payload')
      .where({ id_digested: false })
      .whereIn('kind', [...secretKinds])
      .limit(batchSize);
    if (!rows.length) return converted;
    for (const row of rows) {
      await db('oauth_records')
        .where({ kind: row.kind, id: row.id, id_digested: false })
        .update({ id: ids.storedId(row.kind, row.id), payload: JSON.stringify(storedPayload(row.kind, row.id, row.payload as never)), id_digested: true });
    }
    converted += rows.length;
  }
}
