import type { AdapterPayload } from 'oidc-provider';
import { statement, type Statement } from '../../db/statements.ts';
import type { BearerDigests } from '../../keys/bearer-digests.ts';
import { mayBeIssued, type CredentialKind } from '../../keys/credential-formats.ts';

/**
 * Kinds whose id is itself a bearer secret: whoever presents it is let in
 * (a token, a code, the engine's login session and interaction cookies).
 * They are stored under a keyed digest of the id, and the payload keeps no
 * copy of it. Grant ids stay as they are: a grant id authenticates nothing,
 * and tokens, authorizations and revocation find their grant by it. So do
 * pushed authorization requests: their request_uri only points at
 * parameters the partner itself pushed, travels in the browser's address
 * bar, and is named by the interaction that continues it.
 */
export const secretKinds: ReadonlySet<string> = new Set([
  'Session',
  'Interaction',
  'AuthorizationCode',
  'AccessToken',
  'RefreshToken',
  'ClientCredentials',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
  'RegistrationAccessToken',
  'InitialAccessToken',
]);

export function isSecretKind(kind: string): boolean {
  return secretKinds.has(kind);
}

/** Kinds whose values carry a prefix and a checksum (keys/credential-formats.ts). */
const formattedKinds: Record<string, CredentialKind> = {
  AccessToken: 'accessToken',
  RefreshToken: 'refreshToken',
  AuthorizationCode: 'authorizationCode',
};

/** Whether the value could name a record of this kind: a token or code that is not one this server makes is never looked up. */
export function mayNameRecord(kind: string, id: string): boolean {
  const credential = formattedKinds[kind];
  return credential === undefined || mayBeIssued(credential, id);
}

/** How engine record ids are kept: digests for secret kinds, as given for the rest. */
export class RecordIds {
  readonly #digests: BearerDigests;

  constructor(digests: BearerDigests) {
    this.#digests = digests;
  }

  /** The id a record of this kind is written under. */
  storedId(kind: string, id: string): string {
    return isSecretKind(kind) ? this.#digests.digest(id) : id;
  }

  /** The ids a record of this kind may be stored under (one per digest key), the current first. */
  lookupIds(kind: string, id: string): string[] {
    return isSecretKind(kind) ? this.#digests.candidates(id) : [id];
  }
}

/**
 * The payload as stored: without the id (`jti`), nor anything else that
 * would give it or another secret back: an interaction's address to resume
 * at ends in its id, and it names the login session's cookie value, which
 * nothing here needs (a session is found by its uid, see login-sessions.ts).
 */
export function storedPayload(kind: string, id: string, payload: AdapterPayload): AdapterPayload {
  if (!isSecretKind(kind)) return payload;
  const { jti: _jti, ...stored } = payload;
  if (kind === 'Interaction') {
    if (typeof stored.returnTo === 'string' && stored.returnTo.endsWith(`/${id}`)) stored.returnTo = stored.returnTo.slice(0, -id.length);
    const session = stored.session as { cookie?: string } | undefined;
    if (session?.cookie) {
      const { cookie: _cookie, ...rest } = session;
      stored.session = rest as AdapterPayload['session'];
    }
  }
  return stored;
}

/** The payload as the engine wrote it, given the id it was found by. */
export function restoredPayload(kind: string, id: string, stored: AdapterPayload): AdapterPayload {
  if (!isSecretKind(kind)) return stored;
  const payload: AdapterPayload = { ...stored, jti: id };
  if (kind === 'Interaction' && typeof payload.returnTo === 'string' && payload.returnTo.endsWith('/')) payload.returnTo = `${payload.returnTo}${id}`;
  return payload;
}

/**
 * A statement that finds a record by the ids it may be stored under, in two
 * shapes: `= $n` for one id (one digest key configured, the usual case) and
 * `= any($n::text[])` for several (during a key rotation). PostgreSQL plans a
 * prepared `= any(…)` for an array of unknown length, finds that plan dearer
 * than one made for the actual one-element array, and so plans the statement
 * again on every execution; equality on the primary key is planned once.
 * (The read-ahead joins and the consume take the array into a PL/pgSQL
 * function that always uses its generic plan: see read-ahead.ts.)
 */
export interface StoredIdLookup {
  one: Statement;
  several: Statement;
}

/** `text` is given how to match the id column against a parameter, e.g. `id ${match('$2')}`. */
export function storedIdLookup(name: string, text: (match: (parameter: string) => string) => string): StoredIdLookup {
  return {
    one: statement(name, text((parameter) => `= ${parameter}`)),
    several: statement(`${name}_several`, text((parameter) => `= any(${parameter}::text[])`)),
  };
}

/** The shape for these ids, and the value its id parameter takes. */
export function lookupFor(lookup: StoredIdLookup, ids: string[]): { statement: Statement; ids: string | string[] } {
  return ids.length === 1 ? { statement: lookup.one, ids: ids[0]! } : { statement: lookup.several, ids };
}
