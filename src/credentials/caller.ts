import type { App } from '../apps/apps.ts';
import type { Level } from '../permissions/catalog.ts';

/** Who is calling, at which level, with what permissions: the one shape every route checks. */
export interface Caller {
  credential: 'basic' | 'jwt' | 'bearer';
  level: Level;
  accountId: string;
  /** The app an app- or appUser-level caller is confined to. */
  appId?: string;
  serviceAccountId?: string;
  /** The one end user an appUser-level caller is confined to. */
  user?: { userId?: string; externalId?: string };
  permissions: ReadonlySet<string>;
  keyId?: string;
  /** For an API key (Basic or JWT): what the key holds, which bounds any key it creates. */
  key?: { permissions: readonly string[]; expiresAt: Date | null; allowedIps: readonly string[] };
  /** For an OAuth access token: the partner, the grant and the authorization behind it. */
  clientId?: string;
  grantId?: string;
  authorizationId?: string;
}

export type Resolution =
  /** `app`: the app the request named, when the credential lookup could bring it along (null: no such app). */
  | { outcome: 'caller'; caller: Caller; app?: App | null }
  /** No credentials, or credentials that prove nothing: 401, with a challenge in `scheme`. */
  | ({ outcome: 'unauthenticated' } & Challenge)
  /** Real credentials that may not be used (expired key, address outside its ranges): 403. */
  | { outcome: 'forbidden'; reason: 'expired' | 'ip_not_allowed' };

/**
 * What a 401 asks for (RFC 6750 §3, RFC 9449 §7.1): the scheme to use and,
 * when credentials were presented and refused, why.
 */
export interface Challenge {
  scheme: 'Basic' | 'Bearer' | 'DPoP';
  error?: 'invalid_token' | 'invalid_dpop_proof';
  description?: string;
}

export const unauthenticated = (scheme: Challenge['scheme'], error?: Challenge['error'], description?: string): Resolution => ({
  outcome: 'unauthenticated',
  scheme,
  ...(error ? { error } : {}),
  ...(description ? { description } : {}),
});
