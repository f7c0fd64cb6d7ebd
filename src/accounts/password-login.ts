import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import type { GuessLimits } from '../limits/guess-limits.ts';
import { authenticateAccount, findAccountByEmail, type Account } from './accounts.ts';
import { recordEvent, type Origin } from '../events/events.ts';
import { HashingBudgetSpent, type PasswordHasher } from './password-hasher.ts';

export type LoginAttempt =
  | { outcome: 'signed-in'; email: string; account: Account }
  | { outcome: 'throttled'; email: string; retryAfter: number }
  | { outcome: 'wrong-credentials'; email: string };

/** What a failed attempt tells the person: the same words whether or not the email exists. */
export const wrongCredentialsMessage = 'The email or password is incorrect.';

/**
 * What login guesses are counted under: the email (whether or not an
 * account has it, so the throttle itself reveals nothing), as a digest, so
 * the counts hold no address book.
 */
function accountSubject(email: string): string {
  return createHash('sha256').update(email.trim().toLowerCase()).digest('base64url');
}

/**
 * One password login, for every login form: reserve the attempt (per email
 * and per client address), verify the password (argon2id), and give the
 * attempt back when it was right or could not be checked.
 */
export class PasswordLogin {
  readonly #db: Knex;
  readonly #hasher: PasswordHasher;
  readonly #limits: GuessLimits;
  readonly #observe: (outcome: LoginAttempt['outcome']) => void;

  /** `observe` hears each attempt's outcome (the server counts them for its metrics). */
  constructor(db: Knex, hasher: PasswordHasher, limits: GuessLimits, observe: (outcome: LoginAttempt['outcome']) => void = () => {}) {
    this.#db = db;
    this.#hasher = hasher;
    this.#limits = limits;
    this.#observe = observe;
  }

  async attempt(form: Record<string, unknown>, origin: Origin & { clientIp: string }): Promise<LoginAttempt> {
    const attempt = await this.#check(form, origin.clientIp);
    this.#observe(attempt.outcome);
    await this.#record(attempt, origin);
    return attempt;
  }

  /**
   * Every attempt leaves an event, the same work whatever the outcome, so
   * its cost tells nothing about whether the email has an account. A failed
   * attempt names the account when the email belongs to one; the email
   * itself, possibly a mistyped password, is never kept.
   */
  async #record(attempt: LoginAttempt, origin: Origin): Promise<void> {
    const account = attempt.outcome === 'signed-in' ? attempt.account : await findAccountByEmail(this.#db, attempt.email);
    const types = { 'signed-in': 'owner.login_succeeded', 'wrong-credentials': 'owner.login_failed', throttled: 'owner.login_throttled' } as const;
    await recordEvent(this.#db, {
      type: types[attempt.outcome],
      actor: account ? { type: 'owner', id: account.id } : { type: 'system' },
      accountId: account?.id,
      target: account ? { type: 'account', id: account.id } : undefined,
      origin,
    });
  }

  async #check(form: Record<string, unknown>, ip: string): Promise<LoginAttempt> {
    const email = typeof form.email === 'string' ? form.email.trim().slice(0, 320) : '';
    const password = typeof form.password === 'string' ? form.password.slice(0, 1024) : '';
    const subject = accountSubject(email);
    const retryAfter = await this.#limits.reserve(subject, ip);
    if (retryAfter > 0) return { outcome: 'throttled', email, retryAfter };
    let account: Account | undefined;
    try {
      account = email && password ? await authenticateAccount(this.#db, this.#hasher, email, password) : undefined;
    } catch (error) {
      if (!(error instanceof HashingBudgetSpent)) throw error;
      await this.#limits.giveBack(subject, ip);
      return { outcome: 'throttled', email, retryAfter: error.retryAfter };
    }
    if (!account) return { outcome: 'wrong-credentials', email };
    await this.#limits.giveBack(subject, ip);
    return { outcome: 'signed-in', email, account };
  }
}
