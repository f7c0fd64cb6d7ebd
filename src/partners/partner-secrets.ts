import { timingSafeEqual } from 'node:crypto';
import type { Knex } from 'knex';
import { BearerDigests } from '../keys/bearer-digests.ts';
import type { EncryptionKey } from '../keys/secret-box.ts';
import { loadKeyEncryptionKeys } from '../keys/server-keys.ts';

/** What turns a new partner secret into what is stored of it. */
export interface SecretHasher {
  hash(secret: string): Promise<string>;
}

const format = 'hmac-sha256';
/** Keeps these digests apart from those of tokens and codes made with the same keys. */
const purpose = 'partner-secret\0';

/**
 * Partner secrets are made by the server: 256 random bits, never chosen by
 * a person. For such a secret a keyed SHA-256 (HMAC) is as strong at rest as
 * argon2id, since there is nothing to guess that is cheaper than the 2^256
 * values, and it costs microseconds instead of tens of milliseconds at every
 * token request. argon2id stays for passwords, which people choose.
 *
 * Stored as `hmac-sha256$<key id>$<base64url digest>`, the key id naming the
 * key-encryption key the digest key was derived from. Anything else is an
 * argon2id hash an earlier version stored; it keeps verifying as before
 * until the secret is rotated.
 */
export class PartnerSecretHasher implements SecretHasher {
  readonly #digests: BearerDigests;

  constructor(digests: BearerDigests) {
    this.#digests = digests;
  }

  async hash(secret: string): Promise<string> {
    const keyId = this.#digests.currentKeyId;
    return `${format}$${keyId}$${this.#digests.digestWith(keyId, purpose + secret)}`;
  }

  /** Whether the presented secret is the stored one; undefined when the stored form is not this one's (argon2id). */
  matches(stored: string, presented: string): boolean | undefined {
    const [tag, keyId, digest, ...rest] = stored.split('$');
    if (tag !== format || !keyId || !digest || rest.length) return undefined;
    const expected = this.#digests.digestWith(keyId, purpose + presented);
    if (expected === undefined) return false;
    const [a, b] = [Buffer.from(expected, 'base64url'), Buffer.from(digest, 'base64url')];
    return a.length === b.length && timingSafeEqual(a, b);
  }
}

/** The hasher for the key-encryption keys configured (or shared through the database), where no server has made one: the CLI, the demo seed. */
export async function partnerSecretsFor(db: Knex, configured: EncryptionKey[] | undefined): Promise<PartnerSecretHasher> {
  return new PartnerSecretHasher(new BearerDigests(await loadKeyEncryptionKeys(db, configured)));
}
