import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';

const base64url = (value: string | Buffer) => Buffer.from(value).toString('base64url');

/**
 * RFC 9449 proofs of one Ed25519 key, made with node:crypto directly (tens
 * of microseconds each): the bench makes one per DPoP request.
 */
export class DpopKey {
  readonly #privateKey: KeyObject;
  readonly #header: string;

  constructor() {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    this.#privateKey = privateKey;
    this.#header = base64url(JSON.stringify({ typ: 'dpop+jwt', alg: 'Ed25519', jwk: publicKey.export({ format: 'jwk' }) }));
  }

  /** A proof for this method and URL, bound to the access token when one is given (ath). */
  proof(method: string, url: string, accessToken?: string): string {
    const claims = {
      jti: randomBytes(16).toString('base64url'),
      htm: method,
      htu: url,
      iat: Math.floor(Date.now() / 1000),
      ...(accessToken ? { ath: createHash('sha256').update(accessToken).digest('base64url') } : {}),
    };
    const input = `${this.#header}.${base64url(JSON.stringify(claims))}`;
    return `${input}.${base64url(sign(null, Buffer.from(input), this.#privateKey))}`;
  }
}

/**
 * Proofs made ahead of each round, so that making them does not compete
 * with the measurement, and thrown away after it, so that none is older
 * than a round (a proof is good for 60 s). A queue that runs dry makes the
 * proof on the spot and counts it.
 */
export class ProofQueue {
  readonly #make: () => string;
  #proofs: string[] = [];
  madeLate = 0;

  constructor(make: () => string) {
    this.#make = make;
  }

  refill(count: number): void {
    this.#proofs = Array.from({ length: count }, this.#make);
  }

  next(): string {
    const proof = this.#proofs.pop();
    if (proof !== undefined) return proof;
    this.madeLate += 1;
    return this.#make();
  }
}
