import { availableParallelism } from 'node:os';
import argon2 from 'argon2';
import { RateLimiterMemory, RateLimiterQueue, RateLimiterQueueError } from 'rate-limiter-flexible';
import type { Settings } from '../config/settings.ts';

export interface PasswordHashCost {
  memoryKiB: number;
  iterations: number;
  parallelism: number;
}

/** The verification budget is spent: nothing was verified; retry after this many seconds. */
export class HashingBudgetSpent extends Error {
  readonly retryAfter = 1;

  constructor() {
    super('the password verification budget of this second is spent');
  }
}

/**
 * argon2id for everything a person or a partner proves with a secret.
 * Verification against an unknown subject still burns one full hash so that
 * response time does not reveal whether an email or client id exists.
 *
 * Verifying is what an unauthenticated caller can make the server do, so it
 * has a budget: at most `verificationsPerSecond` per second in this process,
 * a second's worth more waiting in line, and beyond that a refusal
 * (HashingBudgetSpent) that costs nothing. Hashing new secrets is done for
 * operators and signed-in owners and is not limited.
 */
export class PasswordHasher {
  readonly #cost: PasswordHashCost;
  readonly #budget: RateLimiterQueue;
  #decoy: Promise<string> | undefined;
  #verifications = 0;
  /**
   * At most one hash per core at a time: more would not finish sooner, each
   * holds its memory cost (19 MiB) while it runs, and a burst of logins
   * would otherwise crowd out every other request's share of the thread pool.
   */
  readonly #slots = new Slots(availableParallelism());

  constructor(cost: PasswordHashCost, verificationsPerSecond: number) {
    this.#cost = cost;
    this.#budget = new RateLimiterQueue(new RateLimiterMemory({ points: verificationsPerSecond, duration: 1 }), { maxQueueSize: verificationsPerSecond });
  }

  /** Verifications run since start (the metric appgrant_password_hash_verifications_total). */
  get verifications(): number {
    return this.#verifications;
  }

  hash(plain: string): Promise<string> {
    return this.#slots.run(() =>
      argon2.hash(plain, {
        type: argon2.argon2id,
        memoryCost: this.#cost.memoryKiB,
        timeCost: this.#cost.iterations,
        parallelism: this.#cost.parallelism,
      }),
    );
  }

  /** Whether the plain secret matches the hash; throws HashingBudgetSpent, having verified nothing, when over budget. */
  async verify(hash: string | undefined, plain: string): Promise<boolean> {
    await this.#budget.removeTokens(1).catch((error: unknown) => {
      throw error instanceof RateLimiterQueueError ? new HashingBudgetSpent() : error;
    });
    this.#verifications += 1;
    if (hash === undefined) {
      this.#decoy ??= this.hash('decoy password never matched');
      const decoy = await this.#decoy;
      await this.#slots.run(() => argon2.verify(decoy, plain)).catch(() => false);
      return false;
    }
    try {
      return await this.#slots.run(() => argon2.verify(hash, plain));
    } catch {
      return false;
    }
  }
}

/** A counting semaphore: run() waits for a free slot. */
class Slots {
  #free: number;
  readonly #waiting: Array<() => void> = [];

  constructor(size: number) {
    this.#free = size;
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.#free > 0) this.#free -= 1;
    else await new Promise<void>((resume) => this.#waiting.push(resume));
    try {
      return await work();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#free += 1;
    }
  }
}

/** The hasher with the cost the settings name. */
export function passwordHasherFor(
  settings: Pick<Settings, 'PASSWORD_HASH_MEMORY_KIB' | 'PASSWORD_HASH_ITERATIONS' | 'PASSWORD_HASH_PARALLELISM' | 'PASSWORD_VERIFICATIONS_PER_SECOND'>,
): PasswordHasher {
  return new PasswordHasher(
    {
      memoryKiB: settings.PASSWORD_HASH_MEMORY_KIB,
      iterations: settings.PASSWORD_HASH_ITERATIONS,
      parallelism: settings.PASSWORD_HASH_PARALLELISM,
    },
    settings.PASSWORD_VERIFICATIONS_PER_SECOND,
  );
}
