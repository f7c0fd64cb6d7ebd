import type { Knex } from 'knex';
import { Redis } from 'ioredis';
import { RateLimiterPostgres, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';

/** How many attempts a subject may make in a window. */
export interface WindowLimitOptions {
  /** Names the limit in every key it writes, so limits never share a count. */
  name: string;
  attempts: number;
  windowSeconds: number;
}

const table = 'rate_limits';

/**
 * rate-limiter-flexible's PostgreSQL store runs through knex, so the same
 * statements work on PostgreSQL and on the embedded PGlite. Each is one
 * unnamed statement with no session state (no prepared statement names, no
 * advisory locks), so it also works behind PgBouncer in transaction mode.
 * The library writes $1-style placeholders; knex takes ? ones.
 */
function knexQueryClient(db: Knex) {
  return {
    async query({ text, values = [] }: { text: string; values?: unknown[] }) {
      const bindings: unknown[] = [];
      const sql = text.replace(/\$(\d+)/g, (_placeholder, index: string) => {
        bindings.push(values[Number(index) - 1]);
        return '?';
      });
      const result = await db.raw(sql, bindings as Knex.RawBinding[]);
      // bigint columns come back as strings (pg) or bigints (PGlite); the library does arithmetic on them.
      const rows = (result.rows as Record<string, unknown>[]).map((row) => ({
        ...row,
        ...(row.expire !== undefined && row.expire !== null ? { expire: Number(row.expire) } : {}),
      }));
      return { rows, rowCount: result.rowCount ?? rows.length };
    },
  };
}

/**
 * A fixed-window limit on one kind of attempt, whose counts every instance
 * shares. An attempt is reserved before the work it guards: the reservation
 * is one atomic increment, so however many requests arrive at once, at most
 * `attempts` of them get through in a window.
 */
export class WindowLimit {
  readonly #limiter: RateLimiterAbstract;

  constructor(limiter: RateLimiterAbstract) {
    this.#limiter = limiter;
  }

  /** Reserves one attempt for the subject: 0 when granted, otherwise the seconds until the window ends. */
  async reserve(subject: string): Promise<number> {
    try {
      await this.#limiter.consume(subject);
      return 0;
    } catch (refusal) {
      if (!(refusal instanceof RateLimiterRes)) throw refusal;
      return Math.max(1, Math.ceil(refusal.msBeforeNext / 1000));
    }
  }

  /** Gives back a reserved attempt that should not count (it succeeded, or never ran). */
  async giveBack(subject: string): Promise<void> {
    await this.#limiter.reward(subject, 1);
  }
}

/**
 * Where throttling counts live: PostgreSQL's rate_limits table (the
 * default), or Redis when REDIS_URL is configured. Both are shared by every
 * instance, so a limit holds for the whole deployment, not per process.
 */
export class SharedCounters {
  readonly #db: Knex;
  readonly #redis: Redis | undefined;

  constructor(db: Knex, redisUrl?: string) {
    this.#db = db;
    this.#redis = redisUrl ? new Redis(redisUrl, { maxRetriesPerRequest: 2 }) : undefined;
  }

  limit({ name, attempts, windowSeconds }: WindowLimitOptions): WindowLimit {
    // A subject over its limit is then refused from memory until its window
    // ends, with no round trip: what keeps a flood of refused guesses cheap.
    const common = { keyPrefix: name, points: attempts, duration: windowSeconds, inMemoryBlockOnConsumed: attempts + 1 };
    if (this.#redis) return new WindowLimit(new RateLimiterRedis({ ...common, storeClient: this.#redis }));
    return new WindowLimit(
      new RateLimiterPostgres({
        ...common,
        storeClient: knexQueryClient(this.#db),
        storeType: 'client',
        tableName: table,
        // The table comes from migrations/; counts whose window has ended are deleted by the retention sweep (src/retention).
        tableCreated: true,
        clearExpiredByTimeout: false,
      }),
    );
  }

  async close(): Promise<void> {
    await this.#redis?.quit();
  }
}
