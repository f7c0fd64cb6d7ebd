import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import { isFirstUse } from './used-proofs.ts';
import { proofAlgorithms, verifyProofSignature } from './proof-signature.ts';

/** The algorithms a DPoP proof may be signed with, here and at the token endpoint. */
export const dpopSigningAlgorithms = proofAlgorithms;

/** How old a proof may be (RFC 9449 §11.1: a short window); clock tolerance is added both ways. */
const proofLifetimeSeconds = 60;

/** What a proof was presented with: the request it claims to be for and the token it is bound to. */
export interface ProofRequest {
  proof: string | undefined;
  method: string;
  /** The request's URL as the public sees it: the issuer's origin and the path, no query. */
  url: string;
  accessToken: string;
}

export type ProofCheck = { valid: true; thumbprint: string } | { valid: false; reason: string };

const refused = (reason: string): ProofCheck => ({ valid: false, reason });

/** `typ` as JWS compares it (RFC 7515 §4.1.9): case-insensitive, `application/` optional. */
const isProofType = (typ: unknown) => typeof typ === 'string' && typ.toLowerCase().replace(/^application\//, '') === 'dpop+jwt';

/** The request URL without query and fragment, normalised, or undefined when it is not a URL. */
function withoutQuery(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const url = URL.parse(value);
  if (!url) return undefined;
  url.search = '';
  url.hash = '';
  return url.href;
}

/**
 * Verifies RFC 9449 proofs presented with DPoP-bound access tokens: signed by
 * the public key in its own header, for this method and URL, for this token
 * (ath), recent (iat), and never seen before (jti, recorded in the database
 * every instance shares).
 */
export class DpopProofs {
  readonly #db: Knex;
  readonly #toleranceSeconds: number;

  constructor(db: Knex, clockToleranceSeconds: number) {
    this.#db = db;
    this.#toleranceSeconds = clockToleranceSeconds;
  }

  async verify(request: ProofRequest): Promise<ProofCheck> {
    if (!request.proof) return refused('a DPoP proof is required');
    const signed = verifyProofSignature(request.proof);
    if (!signed || !isProofType(signed.header.typ)) return refused('the DPoP proof is not a valid signed proof');
    const { payload, thumbprint } = signed;
    const now = Math.floor(Date.now() / 1000);
    // Optional in a proof; when present, held to what any JWT is held to (RFC 7519 §4.1.4, §4.1.5).
    if (payload.exp !== undefined && (typeof payload.exp !== 'number' || payload.exp <= now)) return refused('the DPoP proof has expired');
    if (payload.nbf !== undefined && (typeof payload.nbf !== 'number' || payload.nbf > now)) return refused('the DPoP proof is not valid yet');
    if (typeof payload.jti !== 'string' || !payload.jti || payload.jti.length > 256) return refused('the DPoP proof needs a jti');
    if (typeof payload.iat !== 'number') return refused('the DPoP proof needs an iat');
    if (payload.iat > now + this.#toleranceSeconds || payload.iat < now - proofLifetimeSeconds - this.#toleranceSeconds) {
      return refused('the DPoP proof is not recent');
    }
    if (payload.htm !== request.method) return refused('the DPoP proof is for another method');
    if (withoutQuery(payload.htu) !== withoutQuery(request.url)) return refused('the DPoP proof is for another URL');
    if (payload.ath !== createHash('sha256').update(request.accessToken).digest('base64url')) {
      return refused('the DPoP proof is for another access token');
    }
    // Kept until the proof would be refused as stale anyway.
    const staleAt = new Date((payload.iat + proofLifetimeSeconds + 2 * this.#toleranceSeconds) * 1000);
    if (!(await isFirstUse(this.#db, `dpop:${thumbprint}`, payload.jti, staleAt))) return refused('the DPoP proof was already used');
    return { valid: true, thumbprint };
  }
}
