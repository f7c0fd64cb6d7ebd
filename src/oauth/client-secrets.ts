import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { Provider, errors } from 'oidc-provider';
import { HashingBudgetSpent, type PasswordHasher } from '../accounts/password-hasher.ts';
import type { Settings } from '../config/settings.ts';
import { GuessLimits } from '../limits/guess-limits.ts';
import type { SharedCounters } from '../limits/shared-counters.ts';
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

  #key(storedHash: string, presented: string): string {
    return createHash('sha256').update(storedHash).update('\0').update(presented).digest('base64url');
  }

  async matches(storedHash: string, presented: string): Promise<boolean> {
    if (this.#verified.get(this.#key(storedHash, presented))) return true;
    const ok = await this.#hasher.verify(storedHash, presented);
    if (ok) this.#verified.set(this.#key(storedHash, presented), true);
    return ok;
  }

  /** The current secret, or the previous one while its grace period lasts. */
  async matchesClient(current: string, previous: PreviousSecret | undefined, presented: string): Promise<boolean> {
    if (await this.matches(current, presented)) return true;
    if (!livePrevious(previous)) return false;
    return this.matches(previous.hash, presented);
  }

  /** Whether the secret is already known to match, at no cost: then nothing needs checking or counting. */
  knownToMatchClient(current: string, previous: PreviousSecret | undefined, presented: string): boolean {
    if (this.#verified.has(this.#key(current, presented))) return true;
    return livePrevious(previous) && this.#verified.has(this.#key(previous.hash, presented));
  }
}

function livePrevious(previous: PreviousSecret | undefined): previous is PreviousSecret {
  return previous !== undefined && previous.expires_at * 1000 > Date.now();
}

/** The limits on failed client authentication the settings name, per client and per client address. */
export function clientAuthGuesses(counters: SharedCounters, settings: Settings): GuessLimits {
  return new GuessLimits(counters, {
    name: 'client-auth',
    perSubject: settings.CLIENT_AUTH_MAX_FAILURES_PER_CLIENT,
    perAddress: settings.CLIENT_AUTH_MAX_FAILURES_PER_IP,
    windowSeconds: settings.CLIENT_AUTH_FAILURE_WINDOW,
  });
}

/** The token endpoint's answer when a client's guesses are refused (RFC 6749 §5.2 shape, RFC 6585 status). */
class TooManyFailedAuthentications extends errors.OIDCProviderError {
  constructor(retryAfter: number) {
    super(429, 'temporarily_unavailable');
    this.error_description = `too many failed client authentications; retry in ${retryAfter} seconds`;
  }
}

function refuse(ctx: { set(name: string, value: string): void } | undefined, retryAfter: number): never {
  ctx?.set('Retry-After', String(retryAfter));
  throw new TooManyFailedAuthentications(retryAfter);
}

/**
 * oidc-provider compares client secrets in plain text by default; this
 * replaces that one comparison with the hashed one above, guarded by the
 * client-authentication limits: a secret not already known to match is a
 * guess, reserved per client and per address before any hashing; once the
 * limit is reached, further guesses get 429 with Retry-After and cost
 * nothing. A right secret gives its reservation back. Everything else
 * about client authentication (methods, errors, parsing) stays the engine's.
 */
export function useHashedClientSecrets(provider: Provider, verifier: ClientSecretVerifier, guesses: GuessLimits): void {
  replaceClientSecretComparison(provider, async (client, presented) => {
    const previous = partnerPropertiesOf(client).previous_secret;
    if (verifier.knownToMatchClient(client.clientSecret, previous, presented)) return true;
    const ctx = Provider.ctx;
    const ip = ctx?.ip ?? '';
    const retryAfter = await guesses.reserve(client.clientId, ip);
    if (retryAfter > 0) refuse(ctx, retryAfter);
    let matches: boolean;
    try {
      matches = await verifier.matchesClient(client.clientSecret, previous, presented);
    } catch (error) {
      if (!(error instanceof HashingBudgetSpent)) throw error;
      await guesses.giveBack(client.clientId, ip);
      refuse(ctx, error.retryAfter);
    }
    if (matches) await guesses.giveBack(client.clientId, ip);
    return matches;
  });
}
