import type { App } from '../apps/apps.ts';
import { unauthenticated, type Resolution } from './caller.ts';
import type { UsageRecorder } from './usage-recorder.ts';

/** What an OAuth access token acts through, as the OAuth engine validated it. */
export interface AccessTokenGrant {
  clientId: string;
  grantId: string;
  /** The token's scope, space-separated. */
  scope: string;
  /** The live authorization behind the token's grant, with the app it acts on. */
  authorization: { id: string; permissions: string[]; app: App };
}

/** Finds and validates an access token; undefined when it is unknown, expired or its authorization ended. */
export type AccessTokenLookup = (token: string) => Promise<AccessTokenGrant | undefined>;

/** `Authorization: Bearer <access token>` from the partner OAuth flow: app level, for its one app. */
export class BearerCredentials {
  readonly #lookup: AccessTokenLookup;
  readonly #usage: UsageRecorder;

  constructor(lookup: AccessTokenLookup, usage: UsageRecorder) {
    this.#lookup = lookup;
    this.#usage = usage;
  }

  async resolve(value: string, appId: string | undefined): Promise<Resolution> {
    const token = await this.#lookup(value);
    if (!token) return unauthenticated('Bearer', 'invalid_token');
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
      },
    };
  }
}
