import type { Knex } from 'knex';
import { recordEvent, type Actor } from '../events/events.ts';
import { enqueueNotices } from './outbox.ts';

/** A notice as the partner's delivery log shows it, with every attempt, newest first. */
export interface LoggedNotice {
  id: string;
  event: string;
  appId: string | null;
  createdAt: Date;
  state: 'pending' | 'delivered' | 'failed';
  nextAttemptAt: Date | null;
  attempts: NoticeAttempt[];
}

export interface NoticeAttempt {
  at: Date;
  statusCode: number | null;
  latencyMs: number;
  error: string | null;
  /** When the next try is due, if this attempt failed and another will follow. */
  nextAttemptAt: Date | null;
}

interface NoticeRow {
  id: string;
  payload: { event?: string };
  app_id: string | null;
  created_at: Date;
  delivered_at: Date | null;
  failed_at: Date | null;
  next_attempt_at: Date;
}

const stateOf = (row: NoticeRow): LoggedNotice['state'] => (row.delivered_at ? 'delivered' : row.failed_at ? 'failed' : 'pending');

/** The partner's latest notices, newest first, each with its attempts. */
export async function listNoticesOfPartner(db: Knex, partnerId: string, limit = 50): Promise<LoggedNotice[]> {
  const rows: NoticeRow[] = await db('removal_notices')
    .select('id', 'payload', 'app_id', 'created_at', 'delivered_at', 'failed_at', 'next_attempt_at')
    .where({ partner_id: partnerId })
    .orderBy('seq', 'desc')
    .limit(limit);
  const attempts = rows.length
    ? await db('notice_attempts').select('*').whereIn('notice_id', rows.map((row) => row.id)).orderBy('id', 'desc')
    : [];
  return rows.map((row) => ({
    id: row.id,
    event: row.payload.event ?? 'unknown',
    appId: row.app_id,
    createdAt: row.created_at,
    state: stateOf(row),
    nextAttemptAt: stateOf(row) === 'pending' ? row.next_attempt_at : null,
    attempts: attempts
      .filter((attempt) => attempt.notice_id === row.id)
      .map((attempt) => ({
        at: attempt.attempted_at,
        statusCode: attempt.status_code,
        latencyMs: attempt.latency_ms,
        error: attempt.error,
        nextAttemptAt: attempt.next_attempt_at,
      })),
  }));
}

/**
 * Queues a delivered or failed notice again, as it was (same id and body,
 * freshly signed), with a new round of attempts; the redelivery is recorded.
 * 'pending' when the notice is still on its way, 'not_found' when the
 * partner has no such notice.
 */
export async function redeliverNotice(db: Knex, partnerId: string, noticeId: string, actor: Actor): Promise<'queued' | 'pending' | 'not_found'> {
  return db.transaction(async (trx) => {
    const row = await trx('removal_notices').select('id', 'app_id', 'delivered_at', 'failed_at', 'payload').where({ id: noticeId, partner_id: partnerId }).forUpdate().first();
    if (!row) return 'not_found';
    if (!row.delivered_at && !row.failed_at) return 'pending';
    await trx('removal_notices')
      .where({ id: noticeId })
      .update({ delivered_at: null, failed_at: null, attempts: 0, last_error: null, next_attempt_at: trx.fn.now() });
    await recordEvent(trx, {
      type: 'notice.redelivered',
      actor,
      appId: row.app_id,
      partnerId,
      target: { type: 'notice', id: noticeId },
      detail: { event: (row.payload as { event?: string }).event },
    });
    return 'queued';
  });
}

/** Queues a `notice.test` to the partner's notice URL; undefined when it has none. */
export async function sendTestNotice(db: Knex, partnerId: string): Promise<string | undefined> {
  const [id] = await enqueueNotices(db, 'notice.test', [{ partnerId, data: { message: 'A test notice from appgrant' } }]);
  return id;
}
