import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';

/**
 * Credentials this server issues carry a fixed prefix naming their kind and
 * a checksum, so that a leak scanner can recognise one in logs and
 * repositories, and a value that is not one is refused before any database
 * read:
 *
 *   <prefix><43 base62 characters: 256 random bits><6 base62 characters: CRC32 of prefix and body>
 *
 * e.g. `agat_` + 49 characters, 54 in all. The checksum only tells a
 * well-formed value from junk or a typo; it protects nothing (a value is
 * checked against its stored digest all the same).
 */
export const credentialPrefixes = {
  /** The secret of an API key (Basic keyId:secret; also the HS256 key its JWTs are signed with). */
  apiKeySecret: 'agk_',
  /** A partner's client secret. */
  clientSecret: 'agcs_',
  accessToken: 'agat_',
  refreshToken: 'agrt_',
  authorizationCode: 'agac_',
} as const;

export type CredentialKind = keyof typeof credentialPrefixes;

const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const bodyLength = 43;
const checksumLength = 6;
const base62 = /^[0-9A-Za-z]+$/;
/** What every such value looked like before: 256 random bits in base64url. Still looked up, so they keep working. */
const earlierShape = /^[A-Za-z0-9_-]{43}$/;

function toBase62(value: bigint, length: number): string {
  let text = '';
  for (let rest = value; rest > 0n; rest /= 62n) text = alphabet[Number(rest % 62n)] + text;
  return text.padStart(length, '0');
}

function checksumOf(prefix: string, body: string): string {
  return toBase62(BigInt(crc32(prefix + body)), checksumLength);
}

/** A new credential of this kind: prefix, 256 random bits, checksum. */
export function newCredential(kind: CredentialKind): string {
  const prefix = credentialPrefixes[kind];
  const body = toBase62(BigInt(`0x${randomBytes(32).toString('hex')}`), bodyLength);
  return `${prefix}${body}${checksumOf(prefix, body)}`;
}

/** Whether the value is a credential of this kind as this server makes them (prefix, length, alphabet, checksum). */
export function isWellFormed(kind: CredentialKind, value: string): boolean {
  const prefix = credentialPrefixes[kind];
  if (value.length !== prefix.length + bodyLength + checksumLength || !value.startsWith(prefix)) return false;
  const rest = value.slice(prefix.length);
  if (!base62.test(rest)) return false;
  const body = rest.slice(0, bodyLength);
  return rest.slice(bodyLength) === checksumOf(prefix, body);
}

/**
 * Whether the value may be a credential of this kind this server issued:
 * well-formed, or in the shape every credential had before prefixes (those
 * issued then keep working). Anything else is refused without a lookup.
 */
export function mayBeIssued(kind: CredentialKind, value: string): boolean {
  return isWellFormed(kind, value) || earlierShape.test(value);
}
