import type { Knex } from 'knex';

/**
 * The writes of a code exchange or a refresh, as PL/pgSQL functions for the
 * reason 20261208000001_hot_read_functions gives: behind a transaction
 * pooler the statements go unnamed, and a function's plans are kept for the
 * server session where an unnamed statement is planned at every call.
 *
 * appgrant_consume marks a code or refresh token used, atomically (of
 * concurrent calls for one record exactly one gets its grant id back); a
 * refresh token used is noted on the live authorization of its grant, for
 * the partner's list of installations.
 *
 * appgrant_write_issued writes the tokens one token request issued, any
 * number of rows given as one array per column.
 */

const functions: { name: string; parameters: string; returns: string; body: string }[] = [
  {
    name: 'appgrant_consume',
    parameters: 'p_kind text, p_ids text[]',
    returns: 'table (grant_id oauth_records.grant_id%type)',
    body: `
      if p_kind = 'RefreshToken' then
        return query
          with consumed as (
            update oauth_records set consumed_at = now() where kind = p_kind and id = any(p_ids) and consumed_at is null returning grant_id
          ), noted as (
            update authorizations set last_refreshed_at = now() where grant_id in (select consumed.grant_id from consumed) and revoked_at is null
          )
          select consumed.grant_id from consumed;
      else
        return query
          with consumed as (
            update oauth_records set consumed_at = now() where kind = p_kind and id = any(p_ids) and consumed_at is null returning grant_id
          )
          select consumed.grant_id from consumed;
      end if;`,
  },
  {
    name: 'appgrant_write_issued',
    parameters:
      'p_kinds text[], p_ids text[], p_payloads jsonb[], p_grant_ids text[], p_uids text[], p_user_codes text[], p_expires_at timestamptz[], p_id_digested boolean[]',
    returns: 'void',
    body: `
      insert into oauth_records (kind, id, payload, grant_id, uid, user_code, expires_at, id_digested)
        select * from unnest(p_kinds, p_ids, p_payloads, p_grant_ids, p_uids, p_user_codes, p_expires_at, p_id_digested)
        on conflict (kind, id) do update set payload = excluded.payload, grant_id = excluded.grant_id, uid = excluded.uid,
          user_code = excluded.user_code, expires_at = excluded.expires_at;`,
  },
];

export async function up(knex: Knex): Promise<void> {
  for (const { name, parameters, returns, body } of functions) {
    // use_column: output columns are variables too; in the statements, a name means the table's column.
    await knex.raw(`create function ${name}(${parameters}) returns ${returns}
      language plpgsql volatile set plan_cache_mode = force_generic_plan as $$
      #variable_conflict use_column
      begin${body}
      end $$`);
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const { name, parameters } of functions) await knex.raw(`drop function ${name}(${parameters.replace(/p_\w+ /g, '')})`);
}
