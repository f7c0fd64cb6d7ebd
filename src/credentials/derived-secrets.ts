import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { SecretBox } from '../keys/secret-box.ts';
import type { ApiKeyRow } from './api-keys.ts';

export function sha256(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/**
 * Something derived from an API key's secret: the SHA-256 a presented
 * Basic secret is compared with, or the HMAC key a JWT verifies against.
 * Opening the sealed secret and deriving cost more than the rest of the
 * check, so the result is kept under the key id and its sealed secret as
 * read from the database on this request. A revoked key is never read, and
 * a key whose secret changed has another sealed value, so neither reaches
 * an old entry. A digest of a 256-bit random secret cannot be reversed and
 * does not authenticate by itself; imported HMAC keys are non-extractable.
 */
export class DerivedSecrets<T extends object> {
  readonly #box: SecretBox;
  readonly #derive: (secret: string) => T | Promise<T>;
  readonly #cache = new LRUCache<string, T>({ max: 10_000 });

  constructor(box: SecretBox, derive: (secret: string) => T | Promise<T>) {
    this.#box = box;
    this.#derive = derive;
  }

  async of(key: ApiKeyRow): Promise<T | undefined> {
    const cacheKey = `${key.id}\0${key.secret_ciphertext}`;
    const cached = this.#cache.get(cacheKey);
    if (cached) return cached;
    const secret = this.#box.open(key.secret_ciphertext, key.id);
    if (!secret) return undefined;
    const derived = await this.#derive(secret);
    this.#cache.set(cacheKey, derived);
    return derived;
  }
}
