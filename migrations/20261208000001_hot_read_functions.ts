import type { Knex } from 'knex';

/**
 * The reads of the hot paths (the token request's and introspection's
 * read-ahead, an access token on the API, an API key) as PL/pgSQL
 * functions. PostgreSQL plans the statements inside a PL/pgSQL function once
 * per session and keeps the plan, whether the call itself is prepared or
 * not. Behind a transaction pooler, where appgrant's statements go unnamed,
 * planning these joins on every call cost about 0.4 ms of PostgreSQL CPU
 * each, more than running them; a call of the function is planned in
 * microseconds. Direct connections prepare the call and gain the same.
 *
 * Every function takes the ids a record may be stored under as an array
 * (one per digest key: several only during a key rotation) and always uses
 * its generic plan, so the plan does not depend on the array's length.
 *
 * The column lists are written out here, not read from src/: a migration
 * must stay what it was when it ran. A later change to what these reads
 * return comes with a migration that replaces the function.
 */

const partnerColumns = [
  'id', 'role', 'name', 'account_id', 'logo_url', 'website', 'redirect_uris', 'permissions', 'remove_url',
  'description', 'developer', 'privacy_policy_url', 'terms_url', 'secret_hash', 'previous_secret_hash', 'previous_secret_expires_at', 'approved',
  'suspended_at', 'deleted_at', 'created_at', 'updated_at',
];
const keyColumns = [
  'id', 'owner_type', 'account_id', 'app_id', 'service_account_id', 'display_name', 'permissions', 'allowed_ips', 'expires_at',
  'secret_ciphertext', 'created_at', 'last_used_at', 'revoked_at', 'authorization_id',
];
const appColumns = ['id', 'account_id', 'display_name', 'settings', 'metadata', 'created_at'];

/** `prefix + column` declared with the type of `table.column`, for a `returns table (…)`. */
const declared = (table: string, columns: string[], prefix: string) => columns.map((column) => `${prefix}${column} ${table}.${column}%type`).join(', ');
/** `alias.column`, in the order declared. */
const selected = (alias: string, columns: string[]) => columns.map((column) => `${alias}.${column}`).join(', ');

const live = (alias: string) => `(${alias}.expires_at is null or ${alias}.expires_at > now())`;

const functions: { name: string; parameters: string; returns: string; body: string }[] = [
  {
    // authorization_code or refresh_token: the client, the code or refresh token, its grant, its account, its live authorization.
    name: 'appgrant_token_request_read',
    parameters: 'p_kind text, p_client_id text, p_ids text[]',
    returns: `${declared('partners', partnerColumns, 'client_')},
      token_payload jsonb, token_consumed_at timestamptz, grant_payload jsonb, grant_consumed_at timestamptz,
      account_id accounts.id%type, authorization_app_id authorizations.app_id%type, authorization_account_id authorizations.account_id%type`,
    body: `select ${selected('p', partnerColumns)}, t.payload, t.consumed_at, g.payload, g.consumed_at, acc.id, a.app_id, a.account_id
      from (select 1) as request
      left join partners p on p.id = p_client_id
      left join oauth_records t on t.kind = p_kind and t.id = any(p_ids) and ${live('t')}
      left join oauth_records g on g.kind = 'Grant' and g.id = t.grant_id and ${live('g')}
      left join accounts acc on acc.id = t.payload->>'accountId'
      left join authorizations a on a.grant_id = t.grant_id and a.revoked_at is null
      limit 1`,
  },
  {
    // Introspection: the calling client, the token, its grant, the client it was issued to.
    name: 'appgrant_introspection_read',
    parameters: 'p_kind text, p_client_id text, p_ids text[]',
    returns: `${declared('partners', partnerColumns, 'client_')},
      token_payload jsonb, token_consumed_at timestamptz, grant_payload jsonb, grant_consumed_at timestamptz,
      ${declared('partners', partnerColumns, 'token_client_')}`,
    body: `select ${selected('p', partnerColumns)}, t.payload, t.consumed_at, g.payload, g.consumed_at, ${selected('tp', partnerColumns)}
      from (select 1) as request
      left join partners p on p.id = p_client_id
      left join oauth_records t on t.kind = p_kind and t.id = any(p_ids) and ${live('t')}
      left join oauth_records g on g.kind = 'Grant' and g.id = t.grant_id and ${live('g')}
      left join partners tp on tp.id = t.payload->>'clientId'
      limit 1`,
  },
  {
    // An access token on the API: the token, its live authorization (whose grant still exists), the partner's suspension, the app.
    name: 'appgrant_bearer_read',
    parameters: 'p_ids text[]',
    returns: `token_payload jsonb, token_consumed_at timestamptz, authorization_id authorizations.id%type,
      authorization_permissions jsonb, partner_suspended_at timestamptz, ${declared('apps', appColumns, 'app_')}`,
    body: `select t.payload, t.consumed_at, a.id, a.permissions, p.suspended_at, ${selected('apps', appColumns)}
      from oauth_records t
      left join authorizations a on a.grant_id = t.grant_id and a.revoked_at is null
        and exists (select 1 from oauth_records g where g.kind = 'Grant' and g.id = a.grant_id and ${live('g')})
      left join partners p on p.id = a.partner_id
      left join apps on apps.id = a.app_id
      where t.kind = 'AccessToken' and t.id = any(p_ids) and ${live('t')}
      limit 1`,
  },
  {
    // A usable API key (not revoked, not minted by a suspended partner) and, when the request names one, that app.
    name: 'appgrant_live_key_read',
    parameters: 'p_key_id text, p_app_id text',
    returns: `${declared('api_keys', keyColumns, '')}, ${declared('apps', appColumns, 'named_app_')}`,
    body: `select ${selected('k', keyColumns)}, ${selected('a', appColumns)}
      from api_keys k left join apps a on a.id = p_app_id
      where k.id = p_key_id and k.revoked_at is null
        and not exists (select 1 from authorizations ka join partners kp on kp.id = ka.partner_id
                        where ka.id = k.authorization_id and kp.suspended_at is not null)`,
  },
];

export async function up(knex: Knex): Promise<void> {
  for (const { name, parameters, returns, body } of functions) {
    // use_column: the output columns are variables too; in the query, a name means the table's column.
    await knex.raw(`create function ${name}(${parameters}) returns table (${returns})
      language plpgsql stable set plan_cache_mode = force_generic_plan as $$
      #variable_conflict use_column
      begin
        return query ${body};
      end $$`);
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const { name, parameters } of functions) await knex.raw(`drop function ${name}(${parameters.replace(/p_\w+ /g, '')})`);
}
