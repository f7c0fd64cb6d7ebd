import type { Knex } from 'knex';
import type { KeyEvents } from '../credentials/api-keys.ts';
import type { CallerResolver } from '../credentials/resolve.ts';
import type { SecretBox } from '../keys/secret-box.ts';
import type { PartnerClientAuthenticator } from '../oauth/client-secrets.ts';

/** What the API's routes are built from. */
export interface ApiDependencies {
  db: Knex;
  box: SecretBox;
  resolver: CallerResolver;
  issuer: string;
  /** Told of keys created and revoked (the server's metrics). */
  keyEvents: KeyEvents;
  /** Checks a partner's own client credentials, for what a partner calls about its integration. */
  partnerClients: PartnerClientAuthenticator;
}
