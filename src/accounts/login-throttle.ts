import type { Knex } from 'knex';

export interface LoginThrottleLimits {
  maxFailuresPerAccount: number;
  maxFailuresPerIp: number;
  /** Seconds a run of failures is counted over. */
  windowSeconds: number;
}

/**
 * Slows password guessing on two axes: per email (whether or not an account
 * has it, so the throttle itself reveals nothing) and per client IP. Past the
 * limit each further failure doubles the wait, up to the window. The counts
 * live in the database so every instance sees the same ones.
 */
export class LoginThrottle {
  readonly #db: Knex;
  readonly #limits: LoginThrottleLimits;

  constructor(db: Knex, limits: LoginThrottleLimits) {
    this.#db = db;
    this.#limits = limits;
  }

  static subjects(email: string, ip: string) {
    return { account: `email:${email.trim().toLowerCase()}`, ip: `ip:${ip}` };
  }

  /** Seconds until another attempt is allowed, or 0. */
  async retryAfter(email: string, ip: string): Promise<number> {
    const { account, ip: address } = LoginThrottle.subjects(email, ip);
    const rows = await this.#db('login_failures').select('blocked_until').whereIn('subject', [account, address]);
    const until = Math.max(0, ...rows.map((row) => (row.blocked_until ? new Date(row.blocked_until).getTime() : 0)));
    return Math.max(0, Math.ceil((until - Date.now()) / 1000));
  }

  async recordFailure(email: string, ip: string): Promise<void> {
    const { account, ip: address } = LoginThrottle.subjects(email, ip);
    await this.#count(account, this.#limits.maxFailuresPerAccount);
    await this.#count(address, this.#limits.maxFailuresPerIp);
  }

  /** A correct password clears the account's count; the IP's count keeps running. */
  async recordSuccess(email: string, ip: string): Promise<void> {
    await this.#db('login_failures').where({ subject: LoginThrottle.subjects(email, ip).account }).delete();
  }

  async #count(subject: string, limit: number): Promise<void> {
    const window = this.#limits.windowSeconds;
    const now = new Date();
    const windowStart = new Date(now.getTime() - window * 1000);
    const result = await this.#db.raw(
      `insert into login_failures (subject, failures, window_started_at) values (?, 1, ?)
       on conflict (subject) do update set
         failures = case when login_failures.window_started_at < ? then 1 else login_failures.failures + 1 end,
         window_started_at = case when login_failures.window_started_at < ? then excluded.window_started_at else login_failures.window_started_at end
       returning failures`,
      [subject, now, windowStart, windowStart],
    );
    const failures = Number(result.rows[0].failures);
    if (failures < limit) return;
    const waitSeconds = Math.min(window, 2 ** Math.min(failures - limit, 16) * 15);
    await this.#db('login_failures')
      .where({ subject })
      .update({ blocked_until: new Date(now.getTime() + waitSeconds * 1000) });
  }
}
