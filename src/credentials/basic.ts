import { timingSafeEqual } from 'node:crypto';
import type { Knex } from 'knex';
import type { SecretBox } from '../keys/secret-box.ts';
import { mayBeIssued } from '../keys/credential-formats.ts';
import { findLiveKey, levelOfOwner } from './api-keys.ts';
import { unauthenticated, type Resolution } from './caller.ts';
import { DerivedSecrets, sha256 } from './derived-secrets.ts';
import { keyCaller } from './key-callers.ts';
import type { UsageRecorder } from './usage-recorder.ts';

function parseBasic(value: string): { id: string; secret: string } | undefined {
  const decoded = Buffer.from(value, 'base64').toString('utf8');
  const separator = decoded.indexOf(':');
  // NUL cannot be in an id or secret, and PostgreSQL could not even look it up.
  if (separator <= 0 || decoded.includes('\0')) return undefined;
  return { id: decoded.slice(0, separator), secret: decoded.slice(separator + 1) };
}

/** `Authorization: Basic base64(keyId:secret)` of an API key. */
export class BasicCredentials {
  readonly #db: Knex;
  readonly #usage: UsageRecorder;
  readonly #secretDigests: DerivedSecrets<Buffer>;

  constructor(db: Knex, box: SecretBox, usage: UsageRecorder) {
    this.#db = db;
    this.#usage = usage;
    this.#secretDigests = new DerivedSecrets(box, sha256);
  }

  async resolve(value: string, clientIp: string, appId: string | undefined): Promise<Resolution> {
    const presented = parseBasic(value);
    // A secret that is not one this server makes is refused without a lookup.
    if (presented && !mayBeIssued('apiKeySecret', presented.secret)) return unauthenticated('Basic');
    const found = presented ? await findLiveKey(this.#db, presented.id, appId) : undefined;
    const expected = found && (await this.#secretDigests.of(found.key));
    // Digests of equal length, compared in constant time, whatever the presented secret's length.
    if (!presented || !found || !expected || !timingSafeEqual(expected, sha256(presented.secret))) return unauthenticated('Basic');
    return keyCaller(found, 'basic', levelOfOwner(found.key.owner_type), clientIp, this.#usage);
  }
}
