import type { Knex } from 'knex';

/**
 * A partner edits its integration. Changes to what owners see on the consent
 * page of an approved integration wait in pending_changes for the operator's
 * review, while the approved values stay in force. A deleted integration
 * keeps its row, marked deleted_at, so the removal notices of its ended
 * authorizations are still delivered; nothing can sign in as it any more.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('partners', (table) => {
    table.jsonb('pending_changes');
    table.timestamp('deleted_at', { useTz: true });
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('partners', (table) => {
    table.dropColumns('pending_changes', 'deleted_at');
  });
}
