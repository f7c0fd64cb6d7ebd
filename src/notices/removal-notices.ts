import { sign } from 'node:crypto';
import type { Knex } from 'knex';
import type { SigningKeySet } from '../keys/signing-keys.ts';
import { enqueueNotices } from './outbox.ts';
import type { Logger } from '../log/logger.ts';
import { recordEvent } from '../events/events.ts';
import { noticeBackoffMs } from '../config/settings.ts';
import { OutboundRefusal, type OutboundClient } from '../outbound/client.ts';

interface RevokedAuthorization {
  id: string;
  partner_id: string;
  app_id: string;
  revoked_at: Date | string;
}

/** Queues, inside the removal's own transaction, a notice for each partner that registered a removeUrl, saying why. */
export async function enqueueRemovalNotices(trx: Knex.Transaction, revoked: RevokedAuthorization[], cause?: string): Promise<void> {
  await enqueueNotices(
    trx,
    'integration.removed',
    revoked.map((row) => ({
      partnerId: row.partner_id,
      appId: row.app_id,
      authorizationId: row.id,
      data: { removedAt: new Date(row.revoked_at).toISOString(), ...(cause ? { cause } : {}) },
    })),
  );
}

/**
 * Signs a notice body with the key the shared set says signs now (ES256,
 * published at /oauth/jwks before it ever signs; see src/keys/signing-keys.ts),
 * so a partner can check it came from appgrant without any shared secret:
 * verify the signature of "<t>.<body>" with the key named by kid.
 */
export class NoticeSigner {
  readonly #keys: SigningKeySet;

  constructor(keys: SigningKeySet) {
    this.#keys = keys;
  }

  header(body: string, timestamp = Math.floor(Date.now() / 1000)): string {
    const signing = this.#keys.signingKey();
    if (!signing) throw new Error('no signing key is in force');
    const signature = sign('sha256', Buffer.from(`${timestamp}.${body}`), { key: signing.key, dsaEncoding: 'ieee-p1363' });
    return `t=${timestamp},kid=${signing.kid},es256=${signature.toString('base64url')}`;
  }
}

export interface NoticeDeliveryOptions {
  pollIntervalMs: number;
  retryBaseMs: number;
  maxAttempts: number;
  timeoutMs: number;
}

/** What one attempt found out: the partner's status code if it answered, how long it took, and why it failed, if it did. */
interface SendOutcome {
  statusCode?: number;
  latencyMs: number;
  failure?: string;
  /** Trying again is pointless (the outbound rules refuse the URL). */
  final?: boolean;
}

/** SQL: an earlier notice of the same authorization (or partner, for partner-wide notices) is still pending. */
function earlierPending(db: Knex) {
  return db('removal_notices as earlier')
    .select(db.raw('1'))
    .whereRaw('coalesce(earlier.authorization_id, earlier.partner_id) = coalesce(removal_notices.authorization_id, removal_notices.partner_id)')
    .whereRaw('earlier.seq < removal_notices.seq')
    .whereNull('earlier.delivered_at')
    .whereNull('earlier.failed_at');
}

/** How one delivery attempt ended: delivered, failed (to be retried), or the last attempt failed. */
export type NoticeDeliveryResult = 'delivered' | 'failed' | 'gave_up';

interface DueNotice {
  id: string;
  url: string;
  payload: unknown;
  attempts: number;
  partner_id: string;
  app_id: string;
}

/**
 * Delivers queued notices. Each instance runs one; a notice is claimed by
 * pushing its next attempt past the delivery timeout (a lease), so two
 * instances do not send it at once and a crash mid-delivery only delays it.
 * Notices about one authorization (or about one partner as a whole) go out
 * in the order they were queued: one is not claimed while an earlier one is
 * still pending (being sent, or waiting for its retry). Every attempt is
 * recorded in notice_attempts for the partner's delivery log.
 * A non-2xx answer (a redirect included: none is followed) or a network
 * error is retried with exponential backoff until maxAttempts, then the
 * notice is marked failed. A URL the outbound rules refuse (a private or
 * loopback address, by literal or by what its name resolves to) is marked
 * failed at once, having connected nowhere.
 */
export class RemovalNoticeWorker {
  readonly #db: Knex;
  readonly #signer: NoticeSigner;
  readonly #outbound: OutboundClient;
  readonly #options: NoticeDeliveryOptions;
  readonly #logger: Logger;
  readonly #observe: (result: NoticeDeliveryResult) => void;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;

  /** `outbound` makes every call (src/outbound); `observe` hears how each attempt ended (the server counts them for its metrics). */
  constructor(
    db: Knex,
    signer: NoticeSigner,
    outbound: OutboundClient,
    options: NoticeDeliveryOptions,
    logger: Logger,
    observe: (result: NoticeDeliveryResult) => void = () => {},
  ) {
    this.#db = db;
    this.#signer = signer;
    this.#outbound = outbound;
    this.#options = options;
    this.#logger = logger;
    this.#observe = observe;
  }

  start(): void {
    this.#schedule(0);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
  }

  #schedule(delay: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#running = this.#round()
        .catch((error: unknown) => this.#logger.warn({ err: error }, 'removal notice round failed'))
        .finally(() => {
          this.#running = undefined;
          this.#schedule(this.#options.pollIntervalMs);
        });
    }, delay);
    this.#timer.unref();
  }

  async #round(): Promise<void> {
    for (;;) {
      const due = await this.#claim();
      if (!due.length) return;
      await Promise.all(due.map((notice) => this.#deliver(notice)));
      if (this.#stopped) return;
    }
  }

  async #claim(): Promise<DueNotice[]> {
    const lease = new Date(Date.now() + this.#options.timeoutMs * 2);
    return this.#db.transaction<DueNotice[]>(async (trx) => {
      const ids = await trx('removal_notices')
        .select('id')
        .whereNull('delivered_at')
        .whereNull('failed_at')
        .where('next_attempt_at', '<=', new Date())
        .whereNotExists(earlierPending(trx))
        .orderBy([{ column: 'next_attempt_at' }, { column: 'seq' }])
        .limit(10)
        .forUpdate()
        .skipLocked();
      if (!ids.length) return [];
      const claimed: DueNotice[] = await trx('removal_notices')
        .whereIn('id', ids.map((row) => row.id))
        .update({ next_attempt_at: lease })
        .returning(['id', 'url', 'payload', 'attempts', 'partner_id', 'app_id']);
      return claimed;
    });
  }

  /** Sends one notice: what the partner answered and how long it took, the reason it was not delivered, and whether trying again is pointless. */
  async #send(notice: DueNotice): Promise<SendOutcome> {
    const body = JSON.stringify(notice.payload);
    const started = performance.now();
    const latencyMs = () => Math.round(performance.now() - started);
    try {
      const response = await this.#outbound.send({
        method: 'POST',
        url: notice.url,
        headers: { 'content-type': 'application/json', 'appgrant-signature': this.#signer.header(body), 'user-agent': 'appgrant-notices/1' },
        body,
        timeoutMs: this.#options.timeoutMs,
      });
      const answered = { statusCode: response.status, latencyMs: latencyMs() };
      if (response.status >= 200 && response.status < 300) return answered;
      return { ...answered, failure: response.status >= 300 && response.status < 400 ? `HTTP ${response.status} (redirects are not followed)` : `HTTP ${response.status}` };
    } catch (error) {
      if (error instanceof OutboundRefusal) return { latencyMs: latencyMs(), failure: `refused: ${error.message}`, final: true };
      return { latencyMs: latencyMs(), failure: (error as Error).message };
    }
  }

  async #deliver(notice: DueNotice): Promise<void> {
    const sent = await this.#send(notice);
    const { failure, final = false } = sent;
    const attempts = notice.attempts + 1;
    const attempt = { notice_id: notice.id, status_code: sent.statusCode ?? null, latency_ms: sent.latencyMs, error: failure ?? null };
    if (!failure) {
      await this.#settle(notice, { delivered_at: new Date(), attempts, last_error: null }, attempt, 'notice.delivered');
      this.#logger.info({ notice: notice.id, attempts }, 'removal notice delivered');
      this.#observe('delivered');
      return;
    }
    const gaveUp = final || attempts >= this.#options.maxAttempts;
    const backoff = noticeBackoffMs(this.#options.retryBaseMs, attempts);
    const retry = { attempts, last_error: failure, next_attempt_at: new Date(Date.now() + backoff) };
    const recorded = { ...attempt, next_attempt_at: gaveUp ? null : retry.next_attempt_at };
    await this.#settle(notice, gaveUp ? { ...retry, failed_at: new Date() } : retry, recorded, gaveUp ? 'notice.failed' : undefined);
    this.#logger.warn({ notice: notice.id, attempts, error: failure, gaveUp }, 'removal notice not delivered');
    this.#observe(gaveUp ? 'gave_up' : 'failed');
  }

  /** Records an attempt's outcome, and when the notice's fate is decided, its audit event in the same transaction. */
  async #settle(notice: DueNotice, outcome: Record<string, unknown>, attempt: Record<string, unknown>, decided?: 'notice.delivered' | 'notice.failed'): Promise<void> {
    await this.#db.transaction(async (trx) => {
      await trx('removal_notices').where({ id: notice.id }).update(outcome);
      await trx('notice_attempts').insert(attempt);
      if (!decided) return;
      const event = (notice.payload as { event?: unknown }).event;
      await recordEvent(trx, {
        type: decided,
        actor: { type: 'system' },
        appId: notice.app_id,
        partnerId: notice.partner_id,
        target: { type: 'notice', id: notice.id },
        ...(decided === 'notice.failed' ? { cause: 'gave_up' } : {}),
        detail: { attempts: Number(outcome.attempts), ...(typeof event === 'string' ? { event } : {}), ...(typeof outcome.last_error === 'string' ? { lastError: outcome.last_error } : {}) },
      });
    });
  }
}

/** Notices still to be delivered, and how long the oldest of them has waited. */
export async function noticeBacklog(db: Knex): Promise<{ pending: number; oldestSeconds: number }> {
  const row = await db('removal_notices')
    .whereNull('delivered_at')
    .whereNull('failed_at')
    .first(db.raw('count(*)::int as pending'), db.raw('coalesce(extract(epoch from now() - min(created_at)), 0)::float8 as oldest_seconds'));
  return { pending: Number(row?.pending ?? 0), oldestSeconds: Number(row?.oldest_seconds ?? 0) };
}
