import { addressSubject } from './client-address.ts';
import type { SharedCounters, WindowLimit } from './shared-counters.ts';

export interface GuessLimitOptions {
  /** Names the counts, e.g. "login" or "client-auth". */
  name: string;
  /** Guesses at one subject (an account, a client) in a window, from anywhere. */
  perSubject: number;
  /** Guesses from one client address (an IPv6 client: its /64) in a window, at anything. */
  perAddress: number;
  windowSeconds: number;
}

/**
 * Limits guessing at a secret on two axes: per subject guessed at and per
 * client address. A guess is reserved on both before the secret is checked,
 * in counts every instance shares, so however many arrive at once, at most
 * the limit of them is ever checked in a window. A wrong guess keeps its
 * reservation: that is the failure record, gone when its window ends.
 */
export class GuessLimits {
  readonly #perSubject: WindowLimit;
  readonly #perAddress: WindowLimit;

  constructor(counters: SharedCounters, options: GuessLimitOptions) {
    this.#perSubject = counters.limit({ name: `${options.name}-subject`, attempts: options.perSubject, windowSeconds: options.windowSeconds });
    this.#perAddress = counters.limit({ name: `${options.name}-address`, attempts: options.perAddress, windowSeconds: options.windowSeconds });
  }

  /**
   * Reserves one guess at the subject from this address: 0 when it may be
   * checked, otherwise the seconds until one may. The address is asked
   * first, so a refused address spends nothing of the subject's allowance.
   */
  async reserve(subject: string, ip: string): Promise<number> {
    return (await this.#perAddress.reserve(addressSubject(ip))) || this.#perSubject.reserve(subject);
  }

  /**
   * A guess that was right, or never got checked, does not count. Failures
   * counted before it stay: no interleaving of right and wrong guesses lets
   * more than the limit of wrong ones be checked in a window.
   */
  async giveBack(subject: string, ip: string): Promise<void> {
    await Promise.all([this.#perSubject.giveBack(subject), this.#perAddress.giveBack(addressSubject(ip))]);
  }
}
