import type { Knex } from 'knex';
import { z } from 'zod';
import { newId } from '../db/ids.ts';

/**
 * What a notice tells a partner. Each is queued in the transaction of the
 * change it reports, so a change that rolls back sends nothing and a change
 * that commits is never lost; the worker (removal-notices.ts) signs and
 * delivers them.
 */
export const noticeEvents = [
  'integration.added',
  'integration.updated',
  'integration.removed',
  'integration.tokens_revoked',
  'integration.more_access_declined',
  'integration.suspended',
  'integration.resumed',
  'notice.test',
] as const;

export type NoticeEvent = (typeof noticeEvents)[number];

const permissions = z.array(z.string());
const aboutAuthorization = { appId: z.string(), authorizationId: z.string() };

/** What each event says besides its id, event, client and time: the notices' description for partners (src/api/openapi.ts). */
const noticeFields = {
  'integration.added': { ...aboutAuthorization, permissions },
  'integration.updated': { ...aboutAuthorization, permissions, previousPermissions: permissions },
  'integration.removed': {
    ...aboutAuthorization,
    removedAt: z.iso.datetime(),
    cause: z.string().meta({ description: 'owner, partner, partner_revoke, code_replay, refresh_replay, app_deleted, operator, …' }),
  },
  'integration.tokens_revoked': { ...aboutAuthorization, reason: z.string() },
  'integration.more_access_declined': { ...aboutAuthorization, permissions, declined: permissions },
  'integration.suspended': {},
  'integration.resumed': {},
  'notice.test': { message: z.string() },
} satisfies Record<NoticeEvent, z.ZodRawShape>;

const noticeBodies = noticeEvents.map((event) =>
  z.object({ id: z.string(), event: z.literal(event), clientId: z.string(), occurredAt: z.iso.datetime(), ...noticeFields[event] }).strict(),
);

/** A notice's body, by event. The `id` stays the same across retries and redeliveries. */
export const noticeSchema = z.discriminatedUnion('event', noticeBodies as [(typeof noticeBodies)[number], ...typeof noticeBodies]);

/** One notice to queue: about a partner as a whole, or about one of its authorizations (then with its app). */
export interface NoticeInput {
  partnerId: string;
  appId?: string | null | undefined;
  authorizationId?: string | null | undefined;
  /** What the notice says beyond its id, event, client, app and time. */
  data?: Record<string, unknown>;
}

/**
 * Queues notices for the partners that registered a notice URL (removeUrl);
 * a partner without one is told nothing. Returns the ids queued.
 */
export async function enqueueNotices(trx: Knex, event: NoticeEvent, inputs: readonly NoticeInput[]): Promise<string[]> {
  if (!inputs.length) return [];
  const partners = await trx('partners')
    .select('id', 'remove_url')
    .whereIn('id', [...new Set(inputs.map((input) => input.partnerId))])
    .whereNotNull('remove_url');
  const urls = new Map(partners.map((partner) => [partner.id as string, partner.remove_url as string]));
  const occurredAt = new Date().toISOString();
  const rows = inputs
    .filter((input) => urls.has(input.partnerId))
    .map((input) => {
      const id = newId('ntc_');
      return {
        id,
        partner_id: input.partnerId,
        app_id: input.appId ?? null,
        authorization_id: input.authorizationId ?? null,
        url: urls.get(input.partnerId),
        payload: JSON.stringify({
          id,
          event,
          clientId: input.partnerId,
          ...(input.appId ? { appId: input.appId } : {}),
          ...(input.authorizationId ? { authorizationId: input.authorizationId } : {}),
          occurredAt,
          ...input.data,
        }),
      };
    });
  if (rows.length) await trx('removal_notices').insert(rows);
  return rows.map((row) => row.id);
}
