import type { Knex } from 'knex';
import { authenticateAccount, type Account } from './accounts.ts';
import type { LoginThrottle } from './login-throttle.ts';
import type { PasswordHasher } from './password-hasher.ts';

export type LoginAttempt =
  | { outcome: 'signed-in'; email: string; account: Account }
  | { outcome: 'throttled'; email: string; retryAfter: number }
  | { outcome: 'wrong-credentials'; email: string };

/** What a failed attempt tells the person: the same words whether or not the email exists. */
export const wrongCredentialsMessage = 'The email or password is incorrect.';

/**
 * One password login, for every login form: reserve the attempt with the
 * throttle, verify the password (argon2id), and tell the throttle when it
 * was right.
 */
export class PasswordLogin {
  readonly #db: Knex;
  readonly #hasher: PasswordHasher;
  readonly #throttle: LoginThrottle;

  constructor(db: Knex, hasher: PasswordHasher, throttle: LoginThrottle) {
    this.#db = db;
    this.#hasher = hasher;
    this.#throttle = throttle;
  }

  async attempt(form: Record<string, unknown>, ip: string): Promise<LoginAttempt> {
    const email = typeof form.email === 'string' ? form.email.trim().slice(0, 320) : '';
    const password = typeof form.password === 'string' ? form.password.slice(0, 1024) : '';
    const retryAfter = await this.#throttle.reserve(email, ip);
    if (retryAfter > 0) return { outcome: 'throttled', email, retryAfter };
    const account = email && password ? await authenticateAccount(this.#db, this.#hasher, email, password) : undefined;
    if (!account) return { outcome: 'wrong-credentials', email };
    await this.#throttle.succeeded(email, ip);
    return { outcome: 'signed-in', email, account };
  }
}
