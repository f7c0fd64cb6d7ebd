import { createCipheriv, createDecipheriv, createSecretKey, hkdfSync, randomBytes, type KeyObject } from 'node:crypto';

export interface EncryptionKey {
  id: string;
  secret: string;
}

/**
 * AES-256-GCM for API key secrets at rest. Each ciphertext names the key that
 * made it, so the server key can be rotated: new secrets use the first key,
 * old ones still open with theirs. The key's own id is bound in as associated
 * data, so a ciphertext moved to another row does not decrypt.
 *
 * Format: v1.<encryption key id>.<iv>.<ciphertext>.<tag> (base64url parts).
 */
export class SecretBox {
  // KeyObjects made once: passing raw bytes would re-import the key on every call (several times slower).
  readonly #keys: Map<string, KeyObject>;
  readonly #current: string;

  constructor(keys: EncryptionKey[]) {
    if (!keys.length) throw new Error('at least one encryption key is required');
    this.#keys = new Map(
      keys.map((key) => [key.id, createSecretKey(Buffer.from(hkdfSync('sha256', key.secret, 'appgrant', `api-key-secrets:${key.id}`, 32)))]),
    );
    this.#current = keys[0]!.id;
  }

  seal(plain: string, boundTo: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#keys.get(this.#current)!, iv);
    cipher.setAAD(Buffer.from(boundTo));
    const ciphertext = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return ['v1', this.#current, iv.toString('base64url'), ciphertext.toString('base64url'), cipher.getAuthTag().toString('base64url')].join('.');
  }

  /** The plain secret, or undefined when the box was not made by one of our keys for this row. */
  open(sealed: string, boundTo: string): string | undefined {
    const [version, keyId, iv, ciphertext, tag] = sealed.split('.');
    const key = keyId ? this.#keys.get(keyId) : undefined;
    if (version !== 'v1' || !key || !iv || !ciphertext || !tag) return undefined;
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
      decipher.setAAD(Buffer.from(boundTo));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      return undefined;
    }
  }
}
