import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { Provider, errors } from 'oidc-provider';
import { HashingBudgetSpent, type PasswordHasher } from '../accounts/password-hasher.ts';
import type { Settings } from '../config/settings.ts';
import { GuessLimits } from '../limits/guess-limits.ts';
import type { SharedCounters } from '../limits/shared-counters.ts';
import { partnerPropertiesOf, type PreviousSecret } from './client-metadata.ts';
import { replaceClientSecretComparison } from './engine-internals.ts';
import type { Knex } from 'knex';
import { findPartnerRow, type PartnerRow } from '../partners/partners.ts';
import type { PartnerSecretHasher } from '../partners/partner-secrets.ts';
import { mayBeIssued } from '../keys/credential-formats.ts';

/**
 * Checks a presented partner secret against what is stored of it. Secrets
 * made by this version are stored as keyed digests (partners/partner-secrets.ts)
 * and checked in microseconds. Those an earlier version stored as argon2id
 * hashes keep working until rotated; they cost tens of milliseconds to
 * check, so a secret that has verified once against a given stored hash is
 * remembered as SHA-256(hash, secret) and the next request with the same
 * secret skips argon2. The stored hash is part of the key and is read fresh
 * from the database on every request, so rotating or removing a secret
 * makes the remembered entry unreachable at once, on every instance. The
 * cache holds no secret: only digests of 256-bit random values, which cannot
 * be reversed or guessed.
 */
export class ClientSecretVerifier {
  readonly #hasher: PasswordHasher;
  readonly #keyed: PartnerSecretHasher;
  readonly #verified = new LRUCache<string, true>({ max: 10_000 });

  constructor(hasher: PasswordHasher, keyed: PartnerSecretHasher) {
    this.#hasher = hasher;
    this.#keyed = keyed;
  }

  #key(storedHash: string, presented: string): string {
    return createHash('sha256').update(storedHash).update('\0').update(presented).digest('base64url');
  }

  /** The answer where it costs nothing: a keyed digest, or an argon2id hash this secret already matched; else undefined. */
  #cheapAnswer(storedHash: string, presented: string): boolean | undefined {
    const keyed = this.#keyed.matches(storedHash, presented);
    if (keyed !== undefined) return keyed;
    return this.#verified.has(this.#key(storedHash, presented)) ? true : undefined;
  }

  async matches(storedHash: string, presented: string): Promise<boolean> {
    const cheap = this.#cheapAnswer(storedHash, presented);
    if (cheap !== undefined) return cheap;
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
    if (this.#cheapAnswer(current, presented) === true) return true;
    return livePrevious(previous) && this.#cheapAnswer(previous.hash, presented) === true;
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

export type PartnerAuthentication =
  | { outcome: 'authenticated'; partner: PartnerRow }
  | { outcome: 'refused' }
  | { outcome: 'throttled'; retryAfter: number };

/**
 * A partner authenticating with its client credentials outside the engine
 * (the partner's own API): the same hashed comparison, the same remembered
 * verifications and the same limits on failures as at the token endpoint.
 * Only partners (never the platform API's client) are accepted.
 */
export class PartnerClientAuthenticator {
  readonly #db: Knex;
  readonly #verifier: ClientSecretVerifier;
  readonly #guesses: GuessLimits;

  constructor(db: Knex, verifier: ClientSecretVerifier, guesses: GuessLimits) {
    this.#db = db;
    this.#verifier = verifier;
    this.#guesses = guesses;
  }

  async authenticate(clientId: string, secret: string, ip: string): Promise<PartnerAuthentication> {
    // A secret that is not one this server makes is refused before the partner is read (keys/credential-formats.ts).
    if (!mayBeIssued('clientSecret', secret)) return { outcome: 'refused' };
    const partner = await findPartnerRow(this.#db, clientId);
    const previous = partner?.previous_secret_hash && partner.previous_secret_expires_at
      ? { hash: partner.previous_secret_hash, expires_at: Math.floor(new Date(partner.previous_secret_expires_at).getTime() / 1000) }
      : undefined;
    if (partner && this.#verifier.knownToMatchClient(partner.secret_hash, previous, secret)) return this.#accepted(partner);
    const retryAfter = await this.#guesses.reserve(clientId, ip);
    if (retryAfter > 0) return { outcome: 'throttled', retryAfter };
    if (!partner) return { outcome: 'refused' };
    try {
      if (!(await this.#verifier.matchesClient(partner.secret_hash, previous, secret))) return { outcome: 'refused' };
    } catch (error) {
      if (!(error instanceof HashingBudgetSpent)) throw error;
      await this.#guesses.giveBack(clientId, ip);
      return { outcome: 'throttled', retryAfter: error.retryAfter };
    }
    await this.#guesses.giveBack(clientId, ip);
    return this.#accepted(partner);
  }

  #accepted(partner: PartnerRow): PartnerAuthentication {
    return partner.role === 'partner' && !partner.deleted_at ? { outcome: 'authenticated', partner } : { outcome: 'refused' };
  }
}
