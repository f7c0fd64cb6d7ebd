import type { Knex } from 'knex';
import { ReadKind } from './request-reads.ts';
import { runStatement, statement, type Row, type Statement } from '../../db/statements.ts';
import { partnerRowColumns, type PartnerRow } from '../../partners/partners.ts';
import type { App } from '../../apps/apps.ts';
import type { AdapterPayload } from 'oidc-provider';
import { mayNameRecord, restoredPayload, type RecordIds } from './record-ids.ts';

/**
 * The engine reads what a token request needs one row at a time: the
 * client, then the code, its grant, the account, the authorization. Each is
 * a round trip to PostgreSQL and most of the endpoint's cost. Where the
 * request itself says what will be read (the client id, the code, the
 * token), these steps read it all in one statement first and leave the rows
 * in the request's reads, where the engine's own lookups find them. The
 * engine still does every check it does; it only no longer waits for each row.
 */

/** An engine record as stored: its payload and, for codes and refresh tokens, when it was used. */
export interface StoredRecord {
  payload: AdapterPayload;
  consumed_at: Date | null;
}

const recordReads = new Map<string, ReadKind<StoredRecord | undefined>>();

/** Engine records (codes, tokens, grants) of one model the current request has read. */
export function recordReadsOf(kind: string): ReadKind<StoredRecord | undefined> {
  let reads = recordReads.get(kind);
  if (!reads) recordReads.set(kind, (reads = new ReadKind(`record:${kind}`)));
  return reads;
}

/** Partner rows the current request has read. */
export const partnerReads = new ReadKind<PartnerRow | undefined>('partner');

/** Whether an account exists, as the current request read it. */
export const accountReads = new ReadKind<boolean>('account');

/** What a token needs of the live authorization behind its grant. */
interface LiveAuthorization {
  app_id: string;
  account_id: string;
}

/** The live authorization of a grant, by grant id, as the current request read it. */
export const liveAuthorizationReads = new ReadKind<LiveAuthorization | undefined>('live-authorization');

function partnerFrom(row: Row, prefix: string): PartnerRow | undefined {
  if (row[`${prefix}id`] == null) return undefined;
  return Object.fromEntries(partnerRowColumns.map((column) => [column, row[`${prefix}${column}`]])) as unknown as PartnerRow;
}

/** The record under `prefix`, as the adapter would return it when found by `id` (its payload given its id again). */
function recordFrom(row: Row, prefix: string, kind: string, id: string): StoredRecord | undefined {
  if (row[`${prefix}payload`] == null) return undefined;
  return { payload: restoredPayload(kind, id, row[`${prefix}payload`] as AdapterPayload), consumed_at: row[`${prefix}consumed_at`] } as StoredRecord;
}

async function firstRow(db: Knex, query: Statement, values: unknown[]): Promise<Row | undefined> {
  return (await runStatement(db, query, values))[0];
}

/** The two grants that present a single-use token: a code, or a refresh token. */
export type GrantingKind = 'AuthorizationCode' | 'RefreshToken';

// The joins are PL/pgSQL functions (migration 20261208000001_hot_read_functions): their plans are kept even when the call goes unnamed.
const tokenRequestRead = statement('read_ahead_token_request', 'select * from appgrant_token_request_read($1, $2, $3)');

/**
 * authorization_code or refresh_token at the token endpoint: the client, the
 * code or refresh token, its grant, its account and its authorization.
 */
export async function readAheadTokenRequest(db: Knex, ids: RecordIds, clientId: string, kind: GrantingKind, value: string): Promise<void> {
  if (!mayNameRecord(kind, value)) return;
  const row = await firstRow(db, tokenRequestRead, [kind, clientId, ids.lookupIds(kind, value)]);
  if (!row) return;
  partnerReads.remember(clientId, partnerFrom(row, 'client_'));
  const record = recordFrom(row, 'token_', kind, value);
  recordReadsOf(kind).remember(value, record);
  const { grantId, accountId } = (record?.payload ?? {}) as { grantId?: string; accountId?: string };
  if (grantId) {
    recordReadsOf('Grant').remember(grantId, recordFrom(row, 'grant_', 'Grant', grantId));
    liveAuthorizationReads.remember(
      grantId,
      row.authorization_app_id ? { app_id: row.authorization_app_id as string, account_id: row.authorization_account_id as string } : undefined,
    );
  }
  if (accountId) accountReads.remember(accountId, row.account_id != null);
}

const introspectionRead = statement('read_ahead_introspection', 'select * from appgrant_introspection_read($1, $2, $3)');

/**
 * Introspection: the calling client, the token (of the kind the engine
 * looks for first, given the hint), its grant and the client it was issued to.
 */
export async function readAheadIntrospection(db: Knex, ids: RecordIds, clientId: string, token: string, hint: string | null): Promise<void> {
  const kind = hint === 'refresh_token' || hint === 'urn:ietf:params:oauth:token-type:refresh_token' ? 'RefreshToken' : 'AccessToken';
  if (!mayNameRecord(kind, token)) return;
  const row = await firstRow(db, introspectionRead, [kind, clientId, ids.lookupIds(kind, token)]);
  if (!row) return;
  partnerReads.remember(clientId, partnerFrom(row, 'client_'));
  const tokenRecord = recordFrom(row, 'token_', kind, token);
  recordReadsOf(kind).remember(token, tokenRecord);
  const { grantId, clientId: tokenClientId } = (tokenRecord?.payload ?? {}) as { grantId?: string; clientId?: string };
  if (grantId) recordReadsOf('Grant').remember(grantId, recordFrom(row, 'grant_', 'Grant', grantId));
  if (tokenClientId) partnerReads.remember(tokenClientId, partnerFrom(row, 'token_client_'));
}

/** What an API request made with an access token acts through. */
export interface BearerAuthorization {
  id: string;
  permissions: string[];
  /** Whether the operator has suspended the partner: then the token is refused, though it and the authorization stay. */
  suspended: boolean;
  app: App;
}

const bearerRead = statement('read_ahead_bearer', 'select * from appgrant_bearer_read($1)');

/**
 * An access token presented to the API: its record (left for the engine's
 * AccessToken.find, which still validates it) and, in the same statement,
 * the live authorization behind its grant with the app it acts on, and
 * whether its partner is suspended. A revoked authorization or a deleted
 * grant gives none.
 */
export async function readAheadBearer(db: Knex, ids: RecordIds, token: string): Promise<BearerAuthorization | undefined> {
  if (!mayNameRecord('AccessToken', token)) return undefined;
  const row = await firstRow(db, bearerRead, [ids.lookupIds('AccessToken', token)]);
  recordReadsOf('AccessToken').remember(token, row && recordFrom(row, 'token_', 'AccessToken', token));
  if (!row?.authorization_id || !row.app_id) return undefined;
  return {
    id: row.authorization_id as string,
    permissions: row.authorization_permissions as string[],
    suspended: row.partner_suspended_at != null,
    app: {
      id: row.app_id as string,
      account_id: row.app_account_id as string,
      display_name: row.app_display_name as string,
      settings: row.app_settings,
      metadata: row.app_metadata,
      created_at: row.app_created_at,
    } as App,
  };
}
