import argon2 from 'argon2';

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

  constructor(cost: PasswordHashCost) {
    this.#cost = cost;
  }

  hash(plain: string): Promise<string> {
    return argon2.hash(plain, {
      type: argon2.argon2id,
      memoryCost: this.#cost.memoryKiB,
      timeCost: this.#cost.iterations,
      parallelism: this.#cost.parallelism,
    });
  }

  async verify(hash: string | undefined, plain: string): Promise<boolean> {
    if (hash === undefined) {
      this.#decoy ??= this.hash('decoy password never matched');
      await argon2.verify(await this.#decoy, plain).catch(() => false);
      return false;
    }
    try {
      return await argon2.verify(hash, plain);
    } catch {
      return false;
    }
  }
}
