import type { Knex } from 'knex';
import { recordEvent } from '../events/events.ts';

const recordEveryMs = 60_000;

/**
 * Keeps "last used" of keys and authorizations roughly current without a
 * write per request: each is written at most once a minute per instance, in
 * the background, and a failed write only costs that timestamp. Refused uses
 * of a key (expired, or from outside its allowed ranges) go to the audit
 * trail, also at most once a minute per key, reason and instance, so a
 * misconfigured client retrying in a loop cannot flood it.
 */
export class UsageRecorder {
  readonly #db: Knex;
  readonly #recent = new Map<string, number>();

  constructor(db: Knex) {
    this.#db = db;
  }

  keyUsed(id: string): void {
    this.#touch('api_keys', id);
  }

  keyRefused(key: { id: string; account_id: string; app_id: string | null; display_name: string }, reason: 'expired' | 'outside_ranges', clientIp: string): void {
    if (!this.#due(`refused:${reason}:${key.id}`)) return;
    recordEvent(this.#db, {
      type: reason === 'expired' ? 'key.refused_expired' : 'key.refused_address',
      actor: { type: 'api_key', id: key.id },
      accountId: key.account_id,
      appId: key.app_id,
      target: { type: 'key', id: key.id },
      origin: { clientIp },
      cause: reason,
      detail: { keyName: key.display_name },
    }).catch(() => this.#recent.delete(`refused:${reason}:${key.id}`));
  }

  authorizationUsed(id: string): void {
    this.#touch('authorizations', id);
  }

  #touch(table: 'api_keys' | 'authorizations', id: string): void {
    const key = `${table}:${id}`;
    if (!this.#due(key)) return;
    this.#db(table).where({ id }).update({ last_used_at: new Date() }).catch(() => this.#recent.delete(key));
  }

  /** Whether `key` was last written over a minute ago on this instance (and now counts as written). */
  #due(key: string): boolean {
    const now = Date.now();
    if (now - (this.#recent.get(key) ?? 0) < recordEveryMs) return false;
    this.#recent.set(key, now);
    if (this.#recent.size > 50_000) this.#forgetOlderThan(now - recordEveryMs);
    return true;
  }

  #forgetOlderThan(cutoff: number): void {
    for (const [key, at] of this.#recent) if (at < cutoff) this.#recent.delete(key);
  }
}
