import { createHmac, createSecretKey, hkdfSync, type KeyObject } from 'node:crypto';
import type { EncryptionKey } from './secret-box.ts';

/**
 * Keyed digests (HMAC-SHA256) of bearer secrets: what is stored in place of
 * a token, code, session id or partner secret, so that a row read from the
 * database authenticates nothing and cannot be turned back into the value.
 * The digest keys are derived from the key-encryption keys: the first one
 * digests what is written now, and a value is looked up under each of them,
 * so a rotation of those keys leaves earlier records working until the old
 * key is removed from the configuration.
 */
export class BearerDigests {
  readonly #keys: { id: string; key: KeyObject }[];

  constructor(keys: EncryptionKey[]) {
    if (!keys.length) throw new Error('at least one key is required');
    this.#keys = keys.map((key) => ({
      id: key.id,
      key: createSecretKey(Buffer.from(hkdfSync('sha256', key.secret, 'appgrant', `bearer-digests:${key.id}`, 32))),
    }));
  }

  /** The digest under the current key: what is written. */
  digest(value: string): string {
    return hmac(this.#keys[0]!.key, value);
  }

  /** The digests under every configured key, the current one first: what a lookup may find. */
  candidates(value: string): string[] {
    return this.#keys.map(({ key }) => hmac(key, value));
  }

  /** The current key's id, and the digest under the key of that id (undefined when it is not configured). */
  get currentKeyId(): string {
    return this.#keys[0]!.id;
  }

  digestWith(keyId: string, value: string): string | undefined {
    const found = this.#keys.find((key) => key.id === keyId);
    return found && hmac(found.key, value);
  }
}

function hmac(key: KeyObject, value: string): string {
  return createHmac('sha256', key).update(value).digest('base64url');
}
