import { createHash, timingSafeEqual, webcrypto } from 'node:crypto';
import type { Knex } from 'knex';
import { LRUCache } from 'lru-cache';
import { decodeProtectedHeader, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import type { Provider } from 'oidc-provider';
import { permissionsOfLevel, type Level } from '../permissions/catalog.ts';
import { findLiveKey, levelOfOwner, type ApiKeyRow } from './api-keys.ts';
import type { App } from '../apps/apps.ts';
import { addressInRanges } from './ip-ranges.ts';
import type { SecretBox } from './secret-box.ts';
import { UsageRecorder } from './usage-recorder.ts';
import { readAheadBearer } from '../oauth/read-ahead.ts';

/** Who is calling, at which level, with what permissions: the one shape every route checks. */
export interface Caller {
  credential: 'basic' | 'jwt' | 'bearer';
  level: Level;
  accountId: string;
  /** The app an app- or appUser-level caller is confined to. */
  appId?: string;
  serviceAccountId?: string;
  /** The one end user an appUser-level caller is confined to. */
  user?: { userId?: string; externalId?: string };
  permissions: ReadonlySet<string>;
  keyId?: string;
  /** For an OAuth access token: the partner and the grant behind it. */
  clientId?: string;
  grantId?: string;
}

export type Resolution =
  /** `app`: the app the request named, when the credential lookup could bring it along (null: no such app). */
  | { outcome: 'caller'; caller: Caller; app?: App | null }
  /** No credentials, or credentials that prove nothing: 401. */
  | { outcome: 'unauthenticated'; scheme: 'Basic' | 'Bearer'; error?: 'invalid_token' }
  /** Real credentials that may not be used (expired key, address outside its ranges): 403. */
  | { outcome: 'forbidden' };

export interface ResolverOptions {
  db: Knex;
  box: SecretBox;
  provider: Provider;
  clockToleranceSeconds: number;
}

const unauthenticated = (scheme: 'Basic' | 'Bearer', error?: 'invalid_token'): Resolution =>
  error ? { outcome: 'unauthenticated', scheme, error } : { outcome: 'unauthenticated', scheme };

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

function parseBasic(value: string): { id: string; secret: string } | undefined {
  const decoded = Buffer.from(value, 'base64').toString('utf8');
  const separator = decoded.indexOf(':');
  // NUL cannot be in an id or secret, and PostgreSQL could not even look it up.
  if (separator <= 0 || decoded.includes('\0')) return undefined;
  return { id: decoded.slice(0, separator), secret: decoded.slice(separator + 1) };
}

const looksLikeJwt = (token: string) => /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(token);

/**
 * Turns the Authorization header into a Caller: Basic (API key id and
 * secret), a JWT signed with an API key's secret, or an OAuth access token.
 * Every lookup reads the database, so a revoked key or authorization is
 * refused by every instance from the next request on.
 */
export class CallerResolver {
  readonly #options: ResolverOptions;
  readonly #usage: UsageRecorder;
  readonly #verificationKeys = new LRUCache<string, webcrypto.CryptoKey>({ max: 10_000 });
  readonly #secretDigests = new LRUCache<string, Buffer>({ max: 10_000 });
  readonly #verifiedTokens = new LRUCache<string, JWTPayload>({ max: 10_000 });

  constructor(options: ResolverOptions) {
    this.#options = options;
    this.#usage = new UsageRecorder(options.db);
  }

  /** `appId`: the app the request is about, if any, fetched along with the credential where that saves a query. */
  async resolve(authorization: string | undefined, clientIp: string, appId?: string): Promise<Resolution> {
    const match = /^(Basic|Bearer) +([\x21-\x7e]+)$/i.exec(authorization?.trim() ?? '');
    if (!match?.[1] || !match[2]) return unauthenticated('Basic');
    const [scheme, value] = [match[1].toLowerCase(), match[2]];
    if (scheme === 'basic') return this.#fromBasic(value, clientIp, appId);
    return looksLikeJwt(value) ? this.#fromJwt(value, clientIp, appId) : this.#fromAccessToken(value, appId);
  }

  async #fromBasic(value: string, clientIp: string, appId: string | undefined): Promise<Resolution> {
    const presented = parseBasic(value);
    const found = presented ? await findLiveKey(this.#options.db, presented.id, appId) : undefined;
    const expected = found && (await this.#derivedFromSecret(this.#secretDigests, found.key, digest));
    // Digests of equal length, compared in constant time, whatever the presented secret's length.
    if (!presented || !found || !expected || !timingSafeEqual(expected, digest(presented.secret))) return unauthenticated('Basic');
    return this.#keyCaller(found, 'basic', levelOfOwner(found.key.owner_type), clientIp, {});
  }

  async #fromJwt(token: string, clientIp: string, appId: string | undefined): Promise<Resolution> {
    let kid: string | undefined;
    try {
      const header = decodeProtectedHeader(token);
      if (header.alg !== 'HS256' || typeof header.kid !== 'string' || header.kid.includes('\0')) return unauthenticated('Bearer', 'invalid_token');
      kid = header.kid;
    } catch {
      return unauthenticated('Bearer', 'invalid_token');
    }
    const found = await findLiveKey(this.#options.db, kid, appId);
    const payload = found && (await this.#verifiedClaims(token, found.key));
    if (!found || !payload) return unauthenticated('Bearer', 'invalid_token');
    const { key } = found;
    const now = Math.floor(Date.now() / 1000);
    if (typeof payload.iat === 'number' && payload.iat > now + this.#options.clockToleranceSeconds) {
      return unauthenticated('Bearer', 'invalid_token');
    }
    const level = jwtLevel(payload.scope, key);
    if (!level) return unauthenticated('Bearer', 'invalid_token');
    let user: Caller['user'] = {};
    if (level === 'appUser') {
      const { userId, externalId } = payload as { userId?: unknown; externalId?: unknown };
      user = {
        ...(typeof userId === 'string' && userId ? { userId } : {}),
        ...(typeof externalId === 'string' && externalId ? { externalId } : {}),
      };
      if (!user.userId && !user.externalId) return unauthenticated('Bearer', 'invalid_token');
    }
    return this.#keyCaller(found, 'jwt', level, clientIp, level === 'appUser' ? { user } : {});
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
    const cacheKey = `${key.id}\0${key.secret_ciphertext}\0${digest(token).toString('base64url')}`;
    const tolerance = this.#options.clockToleranceSeconds;
    const remembered = this.#verifiedTokens.get(cacheKey);
    if (remembered) {
      const now = Math.floor(Date.now() / 1000);
      const expired = typeof remembered.exp === 'number' && remembered.exp <= now - tolerance;
      const notYetValid = typeof remembered.nbf === 'number' && remembered.nbf > now + tolerance;
      return expired || notYetValid ? undefined : remembered;
    }
    const verificationKey = await this.#derivedFromSecret(this.#verificationKeys, key, (secret) =>
      webcrypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']),
    );
    if (!verificationKey) return undefined;
    try {
      const { payload } = await jwtVerify(token, verificationKey, { algorithms: ['HS256'], clockTolerance: tolerance });
      this.#verifiedTokens.set(cacheKey, payload);
      return payload;
    } catch (error) {
      if (error instanceof joseErrors.JOSEError) return undefined;
      throw error;
    }
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
  async #derivedFromSecret<T extends object>(cache: LRUCache<string, T>, key: ApiKeyRow, derive: (secret: string) => T | Promise<T>): Promise<T | undefined> {
    const cacheKey = `${key.id}\0${key.secret_ciphertext}`;
    const cached = cache.get(cacheKey);
    if (cached) return cached;
    const secret = this.#options.box.open(key.secret_ciphertext, key.id);
    if (!secret) return undefined;
    const derived = await derive(secret);
    cache.set(cacheKey, derived);
    return derived;
  }

  #keyCaller(
    { key, app }: { key: ApiKeyRow; app?: App | null },
    credential: 'basic' | 'jwt',
    level: Level,
    clientIp: string,
    extra: Partial<Caller>,
  ): Resolution {
    if (key.expires_at && new Date(key.expires_at).getTime() <= Date.now()) return { outcome: 'forbidden' };
    if (key.allowed_ips.length && !addressInRanges(clientIp, key.allowed_ips)) return { outcome: 'forbidden' };
    this.#usage.keyUsed(key.id);
    const ofLevel = permissionsOfLevel(level);
    // A key granted no explicit permissions holds every permission of its level.
    const granted = key.permissions.length ? key.permissions.filter((name) => ofLevel.includes(name)) : ofLevel;
    return {
      outcome: 'caller',
      ...(app !== undefined ? { app } : {}),
      caller: {
        credential,
        level,
        accountId: key.account_id,
        ...(key.app_id ? { appId: key.app_id } : {}),
        ...(key.service_account_id ? { serviceAccountId: key.service_account_id } : {}),
        permissions: new Set(granted),
        keyId: key.id,
        ...extra,
      },
    };
  }

  async #fromAccessToken(value: string, appId: string | undefined): Promise<Resolution> {
    // The token's record and, in the same statement, the live authorization
    // behind its grant with its app; the engine then validates the record.
    const authorization = await readAheadBearer(this.#options.db, value);
    const token = await this.#options.provider.AccessToken.find(value);
    if (!token?.grantId || !authorization) return unauthenticated('Bearer', 'invalid_token');
    this.#usage.authorizationUsed(authorization.id);
    const approved = new Set<string>(authorization.permissions);
    const scoped = String(token.scope ?? '').split(' ').filter((name) => approved.has(name));
    const { app } = authorization;
    return {
      outcome: 'caller',
      ...(appId === app.id ? { app } : {}),
      caller: {
        credential: 'bearer',
        level: 'app',
        accountId: app.account_id,
        appId: app.id,
        permissions: new Set(scoped),
        clientId: token.clientId,
        grantId: token.grantId,
      },
    };
  }
}

/** The level a JWT asks for, if its key may sign it: app keys sign app and appUser, account keys account. */
function jwtLevel(scope: unknown, key: ApiKeyRow): Level | undefined {
  const keyLevel = levelOfOwner(key.owner_type);
  if (scope === 'account') return keyLevel === 'account' ? 'account' : undefined;
  if (scope === 'app' || scope === 'appUser') return keyLevel === 'app' ? scope : undefined;
  return undefined;
}
