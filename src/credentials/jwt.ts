import { webcrypto } from 'node:crypto';
import type { Knex } from 'knex';
import { LRUCache } from 'lru-cache';
import { decodeProtectedHeader, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import type { SecretBox } from '../keys/secret-box.ts';
import type { Level } from '../permissions/catalog.ts';
import { findLiveKey, levelOfOwner, type ApiKeyRow } from './api-keys.ts';
import { unauthenticated, type Caller, type Resolution } from './caller.ts';
import { DerivedSecrets, sha256 } from './derived-secrets.ts';
import { keyCaller } from './key-callers.ts';
import type { UsageRecorder } from './usage-recorder.ts';

export const looksLikeJwt = (token: string) => /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(token);

/** The level a JWT asks for, if its key may sign it: app keys sign app and appUser, account keys account. */
export function jwtLevel(scope: unknown, keyOwner: ApiKeyRow['owner_type']): Level | undefined {
  const keyLevel = levelOfOwner(keyOwner);
  if (scope === 'account') return keyLevel === 'account' ? 'account' : undefined;
  if (scope === 'app' || scope === 'appUser') return keyLevel === 'app' ? scope : undefined;
  return undefined;
}

/** The end user an appUser-level token names (userId or externalId), or undefined when it names none. */
function appUserOf(payload: JWTPayload): Caller['user'] | undefined {
  const { userId, externalId } = payload as { userId?: unknown; externalId?: unknown };
  const user = {
    ...(typeof userId === 'string' && userId ? { userId } : {}),
    ...(typeof externalId === 'string' && externalId ? { externalId } : {}),
  };
  return user.userId || user.externalId ? user : undefined;
}

/**
 * A JWT signed HS256 with an API key's secret: header `kid` is the key id,
 * claim `scope` the level asked for. Verification is jose's; `alg` other
 * than HS256 is refused before any lookup.
 */
export class JwtCredentials {
  readonly #db: Knex;
  readonly #usage: UsageRecorder;
  readonly #clockTolerance: number;
  readonly #verificationKeys: DerivedSecrets<webcrypto.CryptoKey>;
  readonly #verifiedTokens = new LRUCache<string, JWTPayload>({ max: 10_000 });

  constructor(db: Knex, box: SecretBox, usage: UsageRecorder, clockToleranceSeconds: number) {
    this.#db = db;
    this.#usage = usage;
    this.#clockTolerance = clockToleranceSeconds;
    this.#verificationKeys = new DerivedSecrets(box, (secret) =>
      webcrypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']),
    );
  }

  async resolve(token: string, clientIp: string, appId: string | undefined): Promise<Resolution> {
    const kid = keyIdOf(token);
    if (!kid) return unauthenticated('Bearer', 'invalid_token');
    const found = await findLiveKey(this.#db, kid, appId);
    const payload = found && (await this.#verifiedClaims(token, found.key));
    if (!found || !payload) return unauthenticated('Bearer', 'invalid_token');
    if (typeof payload.iat === 'number' && payload.iat > Math.floor(Date.now() / 1000) + this.#clockTolerance) {
      return unauthenticated('Bearer', 'invalid_token');
    }
    const level = jwtLevel(payload.scope, found.key.owner_type);
    if (!level) return unauthenticated('Bearer', 'invalid_token');
    if (level !== 'appUser') return keyCaller(found, 'jwt', level, clientIp, this.#usage);
    const user = appUserOf(payload);
    if (!user) return unauthenticated('Bearer', 'invalid_token');
    return keyCaller(found, 'jwt', level, clientIp, this.#usage, { user });
  }

  /**
   * The claims of a JWT signed with this key, verified by jose, or undefined.
   * SDKs sign a token once and send it with every request, so a token that
   * verified is remembered under its digest and the key's id and sealed
   * secret as read on this request: a revoked or re-keyed key never reaches
   * it. The same bytes verify the same way except for time, so a remembered
   * token's exp and nbf are checked again, exactly as jose checks them.
   */
  async #verifiedClaims(token: string, key: ApiKeyRow): Promise<JWTPayload | undefined> {
    const cacheKey = `${key.id}\0${key.secret_ciphertext}\0${sha256(token).toString('base64url')}`;
    const remembered = this.#verifiedTokens.get(cacheKey);
    if (remembered) return this.#stillInTime(remembered) ? remembered : undefined;
    const verificationKey = await this.#verificationKeys.of(key);
    if (!verificationKey) return undefined;
    try {
      const { payload } = await jwtVerify(token, verificationKey, { algorithms: ['HS256'], clockTolerance: this.#clockTolerance });
      this.#verifiedTokens.set(cacheKey, payload);
      return payload;
    } catch (error) {
      if (error instanceof joseErrors.JOSEError) return undefined;
      throw error;
    }
  }

  #stillInTime(payload: JWTPayload): boolean {
    const now = Math.floor(Date.now() / 1000);
    const expired = typeof payload.exp === 'number' && payload.exp <= now - this.#clockTolerance;
    const notYetValid = typeof payload.nbf === 'number' && payload.nbf > now + this.#clockTolerance;
    return !expired && !notYetValid;
  }
}

/** The key id of a JWT that asks for HS256, or undefined. */
function keyIdOf(token: string): string | undefined {
  try {
    const header = decodeProtectedHeader(token);
    if (header.alg !== 'HS256' || typeof header.kid !== 'string' || header.kid.includes('\0')) return undefined;
    return header.kid;
  } catch {
    return undefined;
  }
}
