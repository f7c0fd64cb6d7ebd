import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Provider } from 'oidc-provider';
import type { PasswordHasher } from '../accounts/password-hasher.ts';
import { partnerPropertiesOf, type PreviousSecret } from './client-metadata.ts';
import { replaceClientSecretComparison } from './engine-internals.ts';

/**
 * Partner secrets are stored as argon2id hashes, which cost tens of
 * milliseconds to check. A secret that has verified once against a given
 * stored hash is remembered as SHA-256(hash, secret) so the next request with
 * the same secret skips argon2. The stored hash is part of the key and is read
 * fresh from the database on every request, so rotating or removing a secret
 * makes the remembered entry unreachable at once, on every instance. The
 * cache holds no secret: only digests of 256-bit random values, which cannot
 * be reversed or guessed.
 */
export class ClientSecretVerifier {
  readonly #hasher: PasswordHasher;
  readonly #verified = new LRUCache<string, true>({ max: 10_000 });

  constructor(hasher: PasswordHasher) {
    this.#hasher = hasher;
  }

  async matches(storedHash: string, presented: string): Promise<boolean> {
    const key = createHash('sha256').update(storedHash).update('\0').update(presented).digest('base64url');
    if (this.#verified.get(key)) return true;
    const ok = await this.#hasher.verify(storedHash, presented);
    if (ok) this.#verified.set(key, true);
    return ok;
  }

  /** The current secret, or the previous one while its grace period lasts. */
  async matchesClient(current: string, previous: PreviousSecret | undefined, presented: string): Promise<boolean> {
    if (await this.matches(current, presented)) return true;
    if (!previous || previous.expires_at * 1000 <= Date.now()) return false;
    return this.matches(previous.hash, presented);
  }
}

/**
 * oidc-provider compares client secrets in plain text by default; this
 * replaces that one comparison with the hashed one above. Everything else
 * about client authentication (methods, errors, parsing) stays the engine's.
 */
export function useHashedClientSecrets(provider: Provider, verifier: ClientSecretVerifier): void {
  replaceClientSecretComparison(provider, (client, presented) =>
    verifier.matchesClient(client.clientSecret, partnerPropertiesOf(client).previous_secret, presented),
  );
}
