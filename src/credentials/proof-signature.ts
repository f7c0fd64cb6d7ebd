import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';

/**
 * The signature of a DPoP proof (RFC 9449 §4.3): a compact JWS whose header
 * carries the public key it is signed with. The checks are those of jose's
 * jwtVerify with EmbeddedJWK, made with node:crypto's synchronous verify:
 * through WebCrypto each proof cost a key import and two asynchronous jobs
 * (signature and thumbprint), three times the CPU for ES256. Anything
 * unexpected is refused: an unknown `crit`, a private key in the header, a
 * key of another type than the algorithm's.
 */

/** Per algorithm: the key it takes and how its signature is checked. */
const algorithms = {
  ES256: { kty: 'EC', crv: 'P-256', members: ['crv', 'kty', 'x', 'y'], digest: 'sha256', dsaEncoding: 'ieee-p1363' },
  Ed25519: { kty: 'OKP', crv: 'Ed25519', members: ['crv', 'kty', 'x'], digest: null, dsaEncoding: undefined },
  EdDSA: { kty: 'OKP', crv: 'Ed25519', members: ['crv', 'kty', 'x'], digest: null, dsaEncoding: undefined },
} as const;
type Algorithm = (typeof algorithms)[keyof typeof algorithms];

/** The algorithms a DPoP proof may be signed with, here and at the token endpoint. */
export const proofAlgorithms = Object.keys(algorithms);

/** Members only a private or symmetric JWK has (RFC 7518 §6). */
const privateMembers = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

const base64url = /^[A-Za-z0-9_-]+$/;

export interface SignedProof {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
  /** RFC 7638 thumbprint of the proof's key (SHA-256, base64url): what a bound token's cnf.jkt names. */
  thumbprint: string;
}

function jsonObject(part: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The header's public key, when it is one of the algorithm's kind, and the members that define it. */
function publicKeyOf(jwk: unknown, algorithm: Algorithm): { key: KeyObject; members: Record<string, string> } | undefined {
  if (jwk === null || typeof jwk !== 'object' || Array.isArray(jwk)) return undefined;
  const given = jwk as Record<string, unknown>;
  if (privateMembers.some((member) => member in given) || given.kty !== algorithm.kty || given.crv !== algorithm.crv) return undefined;
  const members: Record<string, string> = {};
  for (const member of algorithm.members) {
    const value = given[member];
    if (typeof value !== 'string' || !value) return undefined;
    members[member] = value;
  }
  try {
    return { key: createPublicKey({ key: members, format: 'jwk' }), members };
  } catch {
    return undefined;
  }
}

/** The header and claims of a proof whose signature verifies under the key in its header, or undefined. */
export function verifyProofSignature(proof: string): SignedProof | undefined {
  const parts = proof.split('.');
  if (parts.length !== 3 || !parts.every((part) => base64url.test(part))) return undefined;
  const [encodedHeader, encodedPayload, encodedSignature] = parts as [string, string, string];
  const header = jsonObject(encodedHeader);
  if (!header || header.crit !== undefined || typeof header.alg !== 'string' || !Object.hasOwn(algorithms, header.alg)) return undefined;
  const algorithm = algorithms[header.alg as keyof typeof algorithms];
  const publicKey = publicKeyOf(header.jwk, algorithm);
  if (!publicKey) return undefined;
  const signature = Buffer.from(encodedSignature, 'base64url');
  const key = algorithm.dsaEncoding ? { key: publicKey.key, dsaEncoding: algorithm.dsaEncoding } : publicKey.key;
  let valid: boolean;
  try {
    valid = signature.length === 64 && verify(algorithm.digest, Buffer.from(`${encodedHeader}.${encodedPayload}`), key, signature);
  } catch {
    return undefined;
  }
  const payload = valid ? jsonObject(encodedPayload) : undefined;
  if (!payload) return undefined;
  // RFC 7638: the required members in lexicographic order, no whitespace.
  const canonical = JSON.stringify(Object.fromEntries(algorithm.members.map((member) => [member, publicKey.members[member]])));
  return { header, payload, thumbprint: createHash('sha256').update(canonical).digest('base64url') };
}
