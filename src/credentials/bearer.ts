import type { App } from '../apps/apps.ts';
import { unauthenticated, type Resolution } from './caller.ts';
import type { DpopProofs, ProofRequest } from './dpop.ts';
import type { UsageRecorder } from './usage-recorder.ts';

/** What an OAuth access token acts through, as the OAuth engine validated it. */
export interface AccessTokenGrant {
  clientId: string;
  grantId: string;
  /** The token's scope, space-separated. */
  scope: string;
  /** For a DPoP-bound token (RFC 9449): the thumbprint of the key its every use must prove (cnf.jkt). */
  jkt?: string;
  /** The live authorization behind the token's grant, with the app it acts on and whether its partner is suspended. */
  authorization: { id: string; permissions: string[]; suspended: boolean; app: App };
}

/** Finds and validates an access token; undefined when it is unknown, expired or its authorization ended. */
export type AccessTokenLookup = (token: string) => Promise<AccessTokenGrant | undefined>;

/** A DPoP proof as presented, before it is known which token it must be bound to. */
export type PresentedProof = Omit<ProofRequest, 'accessToken'>;

/**
 * An access token from the partner OAuth flow: app level, for its one app.
 * A plain token is sent as `Authorization: Bearer`; a DPoP-bound one only as
 * `Authorization: DPoP` with a proof signed by its key (RFC 9449 §7), so a
 * stolen bound token is useless without that key.
 */
export class BearerCredentials {
  readonly #lookup: AccessTokenLookup;
  readonly #proofs: DpopProofs;
  readonly #usage: UsageRecorder;

  constructor(lookup: AccessTokenLookup, proofs: DpopProofs, usage: UsageRecorder) {
    this.#lookup = lookup;
    this.#proofs = proofs;
    this.#usage = usage;
  }

  /** `proof`: present when the token came with the DPoP scheme. */
  async resolve(value: string, appId: string | undefined, proof?: PresentedProof): Promise<Resolution> {
    const token = await this.#lookup(value);
    if (!token) return unauthenticated(proof ? 'DPoP' : 'Bearer', 'invalid_token');
    // The one check a suspension needs: read with the token on every request, so no instance can miss it.
    if (token.authorization.suspended) return unauthenticated(proof ? 'DPoP' : 'Bearer', 'invalid_token', 'the integration is suspended by the platform');
    const refusal = await this.#senderConstraintRefusal(token, value, proof);
    if (refusal) return refusal;
    const { authorization } = token;
    this.#usage.authorizationUsed(authorization.id);
    const approved = new Set<string>(authorization.permissions);
    const scoped = token.scope.split(' ').filter((name) => approved.has(name));
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
        authorizationId: authorization.id,
      },
    };
  }

  /** Why a token may not be used as presented, if it may not. */
  async #senderConstraintRefusal(token: AccessTokenGrant, value: string, proof: PresentedProof | undefined): Promise<Resolution | undefined> {
    if (!token.jkt) {
      return proof ? unauthenticated('DPoP', 'invalid_token', 'the token is not DPoP-bound: send it with the Bearer scheme') : undefined;
    }
    if (!proof) return unauthenticated('DPoP', 'invalid_token', 'the token is DPoP-bound: send it with the DPoP scheme and a proof');
    const check = await this.#proofs.verify({ ...proof, accessToken: value });
    if (!check.valid) return unauthenticated('DPoP', 'invalid_dpop_proof', check.reason);
    if (check.thumbprint !== token.jkt) return unauthenticated('DPoP', 'invalid_dpop_proof', 'the DPoP proof is signed by another key than the token is bound to');
    return undefined;
  }
}
