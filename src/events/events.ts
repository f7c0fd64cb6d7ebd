import type { Knex } from 'knex';
import { z } from 'zod';

/**
 * The audit trail. Every security-relevant change is recorded by the code
 * that makes it, with the same transaction (`db` is then the transaction),
 * so an action that fails or rolls back leaves no event and no event exists
 * for a change that did not happen. Events are never updated; the retention
 * sweep (src/retention) deletes those older than EVENT_RETENTION_DAYS.
 */
export const eventTypes = [
  'owner.login_succeeded',
  'owner.login_failed',
  'owner.login_throttled',
  'owner.logged_out',
  'authorization.approved',
  'authorization.updated',
  'authorization.denied',
  'authorization.removed',
  'authorization.tokens_revoked',
  'authorization.more_access_declined',
  'key.created',
  'key.revoked',
  'key.refused_expired',
  'key.refused_address',
  'partner.registered',
  'partner.approved',
  'partner.secret_rotated',
  'partner.redirect_urls_changed',
  'partner.suspended',
  'partner.resumed',
  'partner.updated',
  'partner.deleted',
  'notice.delivered',
  'notice.failed',
  'notice.redelivered',
  'signing_key.rotated',
  'signing_key.retired',
  'operator.command',
] as const;

export type EventType = (typeof eventTypes)[number];

/** Who made the change: an owner signed in to a page, a partner client, an API key, the operator's CLI, or appgrant itself. */
export type Actor =
  | { type: 'owner'; id: string }
  | { type: 'partner'; id: string }
  | { type: 'api_key'; id: string }
  | { type: 'operator'; id?: undefined }
  | { type: 'system'; id?: undefined };

/** Where a request came from, when there was one. */
export interface Origin {
  clientIp?: string | undefined;
  userAgent?: string | undefined;
}

/** Values a detail may hold: small, flat, and never a secret. */
export type DetailValue = string | number | boolean | null | readonly string[];

export interface EventInput {
  type: EventType;
  actor: Actor;
  accountId?: string | null | undefined;
  appId?: string | null | undefined;
  partnerId?: string | null | undefined;
  target?: { type: 'authorization' | 'key' | 'partner' | 'signing_key' | 'notice' | 'account' | 'app'; id: string } | undefined;
  origin?: Origin | undefined;
  /** Why something ended or was refused (owner, partner, code_replay, outside_ranges, …). */
  cause?: string | undefined;
  detail?: Readonly<Record<string, DetailValue | undefined>> | undefined;
}

export interface StoredEvent {
  id: string;
  occurred_at: Date;
  type: EventType;
  actor_type: Actor['type'];
  actor_id: string | null;
  account_id: string | null;
  app_id: string | null;
  partner_id: string | null;
  target_type: NonNullable<EventInput['target']>['type'] | null;
  target_id: string | null;
  client_ip: string | null;
  user_agent: string | null;
  cause: string | null;
  detail: Record<string, DetailValue>;
}

/** Detail names that could carry a credential: refused outright, so no caller can log one by mistake. */
const secretLikeName = /secret|token|password|passwd|code|hash|cookie|authorization|credential|signature/i;

export class SecretInEventError extends Error {}

function checkedDetail(detail: EventInput['detail']): Record<string, DetailValue> {
  const kept: Record<string, DetailValue> = {};
  for (const [name, value] of Object.entries(detail ?? {})) {
    if (secretLikeName.test(name)) throw new SecretInEventError(`an event detail may not be named ${name}`);
    if (value !== undefined) kept[name] = value;
  }
  return kept;
}

/** Records one event; call it with the transaction of the change it records. */
export async function recordEvent(db: Knex, event: EventInput): Promise<void> {
  await db('events').insert({
    type: event.type,
    actor_type: event.actor.type,
    actor_id: event.actor.id ?? null,
    account_id: event.accountId ?? null,
    app_id: event.appId ?? null,
    partner_id: event.partnerId ?? null,
    target_type: event.target?.type ?? null,
    target_id: event.target?.id ?? null,
    client_ip: event.origin?.clientIp?.slice(0, 64) ?? null,
    user_agent: event.origin?.userAgent?.slice(0, 256) || null,
    cause: event.cause ?? null,
    detail: JSON.stringify(checkedDetail(event.detail)),
  });
}

export interface EventFilter {
  accountId?: string | undefined;
  appId?: string | undefined;
  partnerId?: string | undefined;
  types?: readonly string[] | undefined;
  since?: Date | undefined;
}

function filtered(db: Knex, filter: EventFilter): Knex.QueryBuilder {
  const query = db('events');
  if (filter.accountId !== undefined) query.where({ account_id: filter.accountId });
  if (filter.appId !== undefined) query.where({ app_id: filter.appId });
  if (filter.partnerId !== undefined) query.where({ partner_id: filter.partnerId });
  if (filter.types?.length) query.whereIn('type', filter.types);
  if (filter.since !== undefined) query.where('occurred_at', '>=', filter.since);
  return query;
}

/** Rows come back with a bigint id as text; events carry it as a string everywhere. */
function stored(row: StoredEvent & { id: string | number }): StoredEvent {
  return { ...row, id: String(row.id) };
}

export interface EventPage {
  events: StoredEvent[];
  hasMore: boolean;
}

/** One page of events, newest first; `before` is the id of the last event of the previous page. */
export async function pageEvents(db: Knex, filter: EventFilter, page: { before?: string | undefined; size: number }): Promise<EventPage> {
  const query = filtered(db, filter).orderBy('id', 'desc').limit(page.size + 1);
  if (page.before !== undefined) query.where('id', '<', page.before);
  const rows = (await query) as StoredEvent[];
  return { events: rows.slice(0, page.size).map(stored), hasMore: rows.length > page.size };
}

/** Events after an id, oldest first: what a follower or an export reads next. */
export async function eventsAfter(db: Knex, filter: EventFilter, after: string | undefined, limit: number): Promise<StoredEvent[]> {
  const query = filtered(db, filter).orderBy('id', 'asc').limit(limit);
  if (after !== undefined) query.where('id', '>', after);
  return ((await query) as StoredEvent[]).map(stored);
}

const actorTypes = ['owner', 'partner', 'api_key', 'operator', 'system'] as const satisfies readonly Actor['type'][];
const targetTypes = ['authorization', 'key', 'partner', 'signing_key', 'notice', 'account', 'app'] as const satisfies readonly NonNullable<EventInput['target']>['type'][];

/** An event as the CLI, the export and the API present it: presentEvent's return type, and the API's description of it. */
export const eventSchema = z
  .object({
    id: z.string().meta({ description: 'Increasing; the cursor of the export and of paging' }),
    occurredAt: z.iso.datetime(),
    type: z.enum(eventTypes),
    actor: z.object({ type: z.enum(actorTypes), id: z.string().optional() }).strict(),
    accountId: z.string().optional(),
    appId: z.string().optional(),
    partnerId: z.string().optional(),
    target: z.object({ type: z.enum(targetTypes), id: z.string() }).strict().optional(),
    clientIp: z.string().optional(),
    userAgent: z.string().optional(),
    cause: z.string().optional(),
    detail: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(z.string()).readonly()])),
  })
  .strict();

/** An event as the CLI, the export and the API present it. */
export function presentEvent(event: StoredEvent): z.output<typeof eventSchema> {
  return {
    id: event.id,
    occurredAt: new Date(event.occurred_at).toISOString(),
    type: event.type,
    actor: { type: event.actor_type, ...(event.actor_id ? { id: event.actor_id } : {}) },
    ...(event.account_id ? { accountId: event.account_id } : {}),
    ...(event.app_id ? { appId: event.app_id } : {}),
    ...(event.partner_id ? { partnerId: event.partner_id } : {}),
    ...(event.target_type && event.target_id ? { target: { type: event.target_type, id: event.target_id } } : {}),
    ...(event.client_ip ? { clientIp: event.client_ip } : {}),
    ...(event.user_agent ? { userAgent: event.user_agent } : {}),
    ...(event.cause ? { cause: event.cause } : {}),
    detail: event.detail,
  };
}
