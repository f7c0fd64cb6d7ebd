import type { Knex } from 'knex';

const recordEveryMs = 60_000;

/**
 * Keeps "last used" of keys and authorizations roughly current without a
 * write per request: each is written at most once a minute per instance, in
 * the background, and a failed write only costs that timestamp.
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

  authorizationUsed(id: string): void {
    this.#touch('authorizations', id);
  }

  #touch(table: 'api_keys' | 'authorizations', id: string): void {
    const now = Date.now();
    const key = `${table}:${id}`;
    if (now - (this.#recent.get(key) ?? 0) < recordEveryMs) return;
    this.#recent.set(key, now);
    if (this.#recent.size > 50_000) this.#forgetOlderThan(now - recordEveryMs);
    this.#db(table).where({ id }).update({ last_used_at: new Date(now) }).catch(() => this.#recent.delete(key));
  }

  #forgetOlderThan(cutoff: number): void {
    for (const [key, at] of this.#recent) if (at < cutoff) this.#recent.delete(key);
  }
}
