import type { Knex } from 'knex';
import type { Settings } from '../config/settings.ts';

/** The settings that say how long each table keeps what has ended. */
export type RetentionSettings = Pick<
  Settings,
  'EVENT_RETENTION_DAYS' | 'ENDED_AUTHORIZATION_RETENTION_DAYS' | 'ENDED_KEY_RETENTION_DAYS' | 'SETTLED_NOTICE_RETENTION_DAYS'
>;

/**
 * One table's retention: which rows are past it. `key` names the columns a
 * row is deleted by (the table's primary key, so a batch is found through
 * an index and deleted by it).
 */
export interface RetentionRule {
  /** The name the sweep's report gives what it removed. */
  name: string;
  table: string;
  key: string[];
  due(query: Knex.QueryBuilder, now: Date, settings: RetentionSettings): Knex.QueryBuilder;
}

const daysBefore = (now: Date, days: number) => new Date(now.getTime() - days * 86_400_000);

/**
 * Every table that grows with use, and when a row of it may go. Tables that
 * hold only live things (accounts, apps, partners, live authorizations and
 * keys, server keys) end by the owner's or operator's action, not here. An
 * ended authorization takes the keys minted through it (api_keys cascades)
 * when it goes, whichever retention is shorter; a settled notice takes its
 * delivery attempts (notice_attempts cascades).
 */
export const retentionRules: readonly RetentionRule[] = [
  {
    name: 'ended_authorizations',
    table: 'authorizations',
    key: ['id'],
    due: (query, now, settings) => query.where('revoked_at', '<', daysBefore(now, settings.ENDED_AUTHORIZATION_RETENTION_DAYS)),
  },
  {
    name: 'ended_keys',
    table: 'api_keys',
    key: ['id'],
    due: (query, now, settings) => {
      const cutoff = daysBefore(now, settings.ENDED_KEY_RETENTION_DAYS);
      return query.where((ended) => ended.where('revoked_at', '<', cutoff).orWhere('expires_at', '<', cutoff));
    },
  },
  {
    name: 'settled_notices',
    table: 'removal_notices',
    key: ['id'],
    due: (query, now, settings) => {
      const cutoff = daysBefore(now, settings.SETTLED_NOTICE_RETENTION_DAYS);
      return query.where((settled) => settled.where('delivered_at', '<', cutoff).orWhere('failed_at', '<', cutoff));
    },
  },
  // Engine records (codes, tokens, grants, sessions, interactions) carry their own expiry.
  { name: 'expired_oauth_records', table: 'oauth_records', key: ['kind', 'id'], due: (query, now) => query.where('expires_at', '<', now) },
  { name: 'expired_web_sessions', table: 'web_sessions', key: ['id_hash'], due: (query, now) => query.where('expires_at', '<', now) },
  // A page flash never shown (the browser never followed its redirect) is sealed, and of no use after a few minutes.
  { name: 'unshown_page_flashes', table: 'page_flashes', key: ['id'], due: (query, now) => query.where('expires_at', '<', now) },
  // A proof past its expiry would be refused as stale anyway.
  { name: 'used_proofs', table: 'used_proofs', key: ['id'], due: (query, now) => query.where('expires_at', '<', now) },
  // Throttling counts (failed logins and client authentications) whose window has ended; `expire` is epoch milliseconds.
  { name: 'ended_rate_limits', table: 'rate_limits', key: ['key'], due: (query, now) => query.where('expire', '<', now.getTime()) },
  {
    name: 'events',
    table: 'events',
    key: ['id'],
    due: (query, now, settings) => query.where('occurred_at', '<', daysBefore(now, settings.EVENT_RETENTION_DAYS)),
  },
  // Retired signing keys leave /oauth/jwks at withdrawn_at (SIGNING_KEY_RETIRED_RETENTION after retirement).
  { name: 'withdrawn_signing_keys', table: 'signing_keys', key: ['kid'], due: (query, now) => query.where('withdrawn_at', '<=', now) },
];
