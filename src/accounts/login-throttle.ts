import { createHash } from 'node:crypto';
import { addressSubject } from '../limits/client-address.ts';
import type { SharedCounters, WindowLimit } from '../limits/shared-counters.ts';

export interface LoginThrottleLimits {
  maxAttemptsPerAccount: number;
  maxAttemptsPerAddress: number;
  /** Seconds a run of attempts is counted over. */
  windowSeconds: number;
}

/**
 * Limits password guessing on two axes: per email (whether or not an account
 * has it, so the throttle itself reveals nothing) and per client address
 * (an IPv6 client per /64). An attempt is reserved on both before its
 * password is checked, in the counters every instance shares, so however
 * many guesses arrive at once, at most the limit of them is ever evaluated
 * in a window. A failed attempt keeps its reservation: that is the failure
 * record, gone when its window ends.
 */
export class LoginThrottle {
  readonly #perAccount: WindowLimit;
  readonly #perAddress: WindowLimit;

  constructor(counters: SharedCounters, limits: LoginThrottleLimits) {
    this.#perAccount = counters.limit({ name: 'login-account', attempts: limits.maxAttemptsPerAccount, windowSeconds: limits.windowSeconds });
    this.#perAddress = counters.limit({ name: 'login-address', attempts: limits.maxAttemptsPerAddress, windowSeconds: limits.windowSeconds });
  }

  /** The counted subjects; the email only as a digest, so the counters hold no address book. */
  static subjects(email: string, ip: string) {
    const account = createHash('sha256').update(email.trim().toLowerCase()).digest('base64url');
    return { account, address: addressSubject(ip) };
  }

  /**
   * Reserves one attempt for this email from this address: 0 when it may
   * go ahead, otherwise the seconds until it may. The address is asked
   * first, so a refused address spends nothing of the account's allowance.
   */
  async reserve(email: string, ip: string): Promise<number> {
    const { account, address } = LoginThrottle.subjects(email, ip);
    return (await this.#perAddress.reserve(address)) || this.#perAccount.reserve(account);
  }

  /**
   * A correct password gives its attempt back on both axes. It does not
   * wipe the failures counted before it: then no login, however it is
   * interleaved with a run of guesses, lets more than the limit of wrong
   * passwords be tried in a window.
   */
  async succeeded(email: string, ip: string): Promise<void> {
    const { account, address } = LoginThrottle.subjects(email, ip);
    await Promise.all([this.#perAccount.giveBack(account), this.#perAddress.giveBack(address)]);
  }
}
