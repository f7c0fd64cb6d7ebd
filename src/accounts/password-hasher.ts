import { availableParallelism } from 'node:os';
import argon2 from 'argon2';
import type { Settings } from '../config/settings.ts';

export interface PasswordHashCost {
  memoryKiB: number;
  iterations: number;
  parallelism: number;
}

/**
 * argon2id for everything a person or a partner proves with a secret.
 * Verification against an unknown subject still burns one full hash so that
 * response time does not reveal whether an email or client id exists.
 */
export class PasswordHasher {
  readonly #cost: PasswordHashCost;
  #decoy: Promise<string> | undefined;
  /**
   * At most one hash per core at a time: more would not finish sooner, each
   * holds its memory cost (19 MiB) while it runs, and a burst of logins
   * would otherwise crowd out every other request's share of the thread pool.
   */
  readonly #slots = new Slots(availableParallelism());

  constructor(cost: PasswordHashCost) {
    this.#cost = cost;
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

  async verify(hash: string | undefined, plain: string): Promise<boolean> {
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
export function passwordHasherFor(settings: Pick<Settings, 'PASSWORD_HASH_MEMORY_KIB' | 'PASSWORD_HASH_ITERATIONS' | 'PASSWORD_HASH_PARALLELISM'>): PasswordHasher {
  return new PasswordHasher({
    memoryKiB: settings.PASSWORD_HASH_MEMORY_KIB,
    iterations: settings.PASSWORD_HASH_ITERATIONS,
    parallelism: settings.PASSWORD_HASH_PARALLELISM,
  });
}
