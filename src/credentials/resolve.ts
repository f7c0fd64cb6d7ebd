import type { Knex } from 'knex';
import type { SecretBox } from '../keys/secret-box.ts';
import { BasicCredentials } from './basic.ts';
import { BearerCredentials, type AccessTokenLookup } from './bearer.ts';
import { unauthenticated, type Resolution } from './caller.ts';
import { DpopProofs } from './dpop.ts';
import { JwtCredentials, looksLikeJwt } from './jwt.ts';
import { UsageRecorder } from './usage-recorder.ts';

export interface ResolverOptions {
  db: Knex;
  box: SecretBox;
  accessTokens: AccessTokenLookup;
  clockToleranceSeconds: number;
  /** The public base URL: DPoP proofs name the URL a request was sent to as the public sees it. */
  issuer: string;
}

/** What a request presents to prove who it is. */
export interface PresentedCredentials {
  /** The Authorization header. */
  authorization: string | undefined;
  /** The DPoP header (RFC 9449 §4), with a DPoP-bound access token. */
  dpop: string | undefined;
  method: string;
  path: string;
  clientIp: string;
}

/**
 * Turns the Authorization header into a Caller: Basic (API key id and
 * secret), a JWT signed with an API key's secret, or an OAuth access token.
 * Every lookup reads the database, so a revoked key or authorization is
 * refused by every instance from the next request on.
 */
export class CallerResolver {
  readonly #basic: BasicCredentials;
  readonly #jwt: JwtCredentials;
  readonly #bearer: BearerCredentials;
  readonly #issuer: string;

  constructor(options: ResolverOptions) {
    const usage = new UsageRecorder(options.db);
    this.#basic = new BasicCredentials(options.db, options.box, usage);
    this.#jwt = new JwtCredentials(options.db, options.box, usage, options.clockToleranceSeconds);
    this.#bearer = new BearerCredentials(options.accessTokens, new DpopProofs(options.db, options.clockToleranceSeconds), usage);
    this.#issuer = options.issuer;
  }

  /** `appId`: the app the request is about, if any, fetched along with the credential where that saves a query. */
  async resolve(presented: PresentedCredentials, appId?: string): Promise<Resolution> {
    const match = /^(Basic|Bearer|DPoP) +([\x21-\x7e]+)$/i.exec(presented.authorization?.trim() ?? '');
    if (!match?.[1] || !match[2]) return unauthenticated('Basic');
    const [scheme, value] = [match[1].toLowerCase(), match[2]];
    if (scheme === 'basic') return this.#basic.resolve(value, presented.clientIp, appId);
    if (scheme === 'dpop') {
      const proof = { proof: presented.dpop, method: presented.method, url: `${this.#issuer}${presented.path}` };
      return this.#bearer.resolve(value, appId, proof);
    }
    return looksLikeJwt(value) ? this.#jwt.resolve(value, presented.clientIp, appId) : this.#bearer.resolve(value, appId);
  }
}
