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
  /** For an OAuth access token: the partner and the grant behind it. */
  clientId?: string;
  grantId?: string;
}

export type Resolution =
  /** `app`: the app the request named, when the credential lookup could bring it along (null: no such app). */
  | { outcome: 'caller'; caller: Caller; app?: App | null }
  /** No credentials, or credentials that prove nothing: 401. */
  | { outcome: 'unauthenticated'; scheme: 'Basic' | 'Bearer'; error?: 'invalid_token' }
  /** Real credentials that may not be used (expired key, address outside its ranges): 403. */
  | { outcome: 'forbidden' };

export const unauthenticated = (scheme: 'Basic' | 'Bearer', error?: 'invalid_token'): Resolution =>
  error ? { outcome: 'unauthenticated', scheme, error } : { outcome: 'unauthenticated', scheme };
