import type { Knex } from 'knex';
import type { Provider } from 'oidc-provider';
import type { AccessTokenLookup } from '../credentials/bearer.ts';
import { readAheadBearer } from './storage/read-ahead.ts';
import type { RecordIds } from './storage/record-ids.ts';

/**
 * Access tokens presented to the API: the token's record and, in the same
 * statement, the live authorization behind its grant with its app; the
 * engine's AccessToken.find then validates the record (expiry, format)
 * from the row already read.
 */
export function accessTokenLookup(db: Knex, provider: Provider, ids: RecordIds): AccessTokenLookup {
  return async (value) => {
    const authorization = await readAheadBearer(db, ids, value);
    const token = await provider.AccessToken.find(value);
    if (!token?.grantId || !authorization) return undefined;
    const jkt = typeof token.jkt === 'string' ? { jkt: token.jkt } : {};
    return { clientId: token.clientId as string, grantId: token.grantId, scope: String(token.scope ?? ''), ...jkt, authorization };
  };
}
