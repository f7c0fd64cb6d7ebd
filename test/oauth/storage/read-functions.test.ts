import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../../src/db/database.ts';
import { partnerRowColumns } from '../../../src/partners/partners.ts';
import { createTestDatabase } from '../../support/database.ts';

/**
 * The hot-path reads are PL/pgSQL functions whose column lists a migration
 * wrote out (migrations/20261208000001_hot_read_functions.ts). The code
 * reads rows back by those names; a column added to a table later must come
 * with a migration that replaces the function, or the code would silently
 * read undefined. These checks fail first.
 */

let database: Database;

beforeAll(async () => {
  database = await createTestDatabase();
});

afterAll(async () => {
  await database?.close();
});

/** The output columns of a function, in order. */
async function outputColumns(name: string): Promise<string[]> {
  const rows: { parameter_name: string }[] = await database
    .knex('information_schema.parameters as p')
    .join('information_schema.routines as r', 'r.specific_name', 'p.specific_name')
    .where({ 'r.routine_name': name, 'p.parameter_mode': 'OUT' })
    .orderBy('p.ordinal_position')
    .select('p.parameter_name');
  return rows.map((row) => row.parameter_name);
}

async function tableColumns(table: string): Promise<string[]> {
  const rows: { column_name: string }[] = await database.knex('information_schema.columns').where({ table_name: table, table_schema: database.knex.raw('current_schema()') }).select('column_name');
  // Never an empty list, which every function would contain.
  expect(rows.length).toBeGreaterThan(3);
  return rows.map((row) => row.column_name);
}

const prefixed = (prefix: string, columns: readonly string[]) => columns.map((column) => `${prefix}${column}`);

describe('the hot-path read functions return every column the code reads', () => {
  it('the token request read: the whole partner row of the client, the record, its grant, the account and the authorization', async () => {
    expect(await outputColumns('appgrant_token_request_read')).toEqual(
      expect.arrayContaining([
        ...prefixed('client_', partnerRowColumns),
        'token_payload', 'token_consumed_at', 'grant_payload', 'grant_consumed_at', 'account_id', 'authorization_app_id', 'authorization_account_id',
      ]),
    );
  });

  it('the introspection read: both partner rows whole', async () => {
    expect(await outputColumns('appgrant_introspection_read')).toEqual(
      expect.arrayContaining([...prefixed('client_', partnerRowColumns), ...prefixed('token_client_', partnerRowColumns), 'token_payload', 'grant_payload']),
    );
  });

  it('the API key read: every column of api_keys, and every column of apps for the named app', async () => {
    const columns = await outputColumns('appgrant_live_key_read');
    expect(columns).toEqual(expect.arrayContaining([...(await tableColumns('api_keys')), ...prefixed('named_app_', await tableColumns('apps'))]));
  });

  it('the access-token read: every column of apps', async () => {
    expect(await outputColumns('appgrant_bearer_read')).toEqual(
      expect.arrayContaining([...prefixed('app_', await tableColumns('apps')), 'token_payload', 'authorization_id', 'authorization_permissions', 'partner_suspended_at']),
    );
  });

  it('the token request read always answers one row, found or not', async () => {
    const { rows } = (await database.knex.raw("select * from appgrant_token_request_read('AuthorizationCode', 'no-such-client', array['no-such-code'])")) as { rows: Record<string, unknown>[] };
    expect(rows).toHaveLength(1);
    expect(rows[0]!.client_id).toBeNull();
    expect(rows[0]!.token_payload).toBeNull();
  });
});
