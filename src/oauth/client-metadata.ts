import type { ClientMetadata } from 'oidc-provider';
import type { PartnerRow } from '../partners/partners.ts';
import type { Settings } from '../config/settings.ts';
import { extraClientProperties } from './engine-internals.ts';
import { responseModes } from './metadata.ts';

/** Extra client properties the engine carries for us (declared in extraClientMetadata). */
export const partnerClientProperties = ['role', 'permissions', 'previous_secret', 'suspended'];

export interface PreviousSecret {
  hash: string;
  expires_at: number;
}

/** Those properties as the engine carries them on a client instance (see engine-internals.ts). */
interface PartnerClientProperties {
  role: string;
  permissions: string[];
  previous_secret: PreviousSecret;
  suspended: boolean;
}

export function partnerPropertiesOf(client: object): Partial<PartnerClientProperties> {
  return extraClientProperties<PartnerClientProperties>(client);
}

/** The grants every partner may use: refresh tokens unless they are switched off. */
export function partnerGrantTypes(settings: Settings): string[] {
  return settings.REFRESH_TOKENS ? ['authorization_code', 'refresh_token'] : ['authorization_code'];
}

/**
 * How a partner looks to the OAuth engine. `client_secret` holds the argon2id
 * hash, never the secret: the engine only ever hands it to our
 * compareClientSecret (see client-secrets.ts), and no HMAC-based algorithm that
 * would use it as a key is enabled.
 */
export function clientMetadataOf(partner: PartnerRow, settings: Settings): ClientMetadata {
  const previous: PreviousSecret | undefined =
    partner.previous_secret_hash && partner.previous_secret_expires_at
      ? { hash: partner.previous_secret_hash, expires_at: Math.floor(new Date(partner.previous_secret_expires_at).getTime() / 1000) }
      : undefined;
  const common = {
    client_id: partner.id,
    client_secret: partner.secret_hash,
    client_name: partner.name,
    token_endpoint_auth_method: 'client_secret_basic' as const,
    role: partner.role,
    ...(previous ? { previous_secret: previous } : {}),
  };
  if (partner.role === 'resource_server') {
    return { ...common, grant_types: [], response_types: [], redirect_uris: [], permissions: [] };
  }
  // A suspended partner may use no grant and start no authorization: the
  // engine refuses both before it reads or consumes any code or token.
  const suspended = partner.suspended_at != null;
  return {
    ...common,
    redirect_uris: partner.redirect_uris,
    grant_types: suspended ? [] : partnerGrantTypes(settings),
    response_types: suspended ? [] : ['code'],
    ...(suspended ? { suspended: true } : {}),
    response_modes: responseModes,
    permissions: partner.permissions,
    ...(partner.logo_url ? { logo_uri: partner.logo_url } : {}),
    ...(partner.website ? { client_uri: partner.website } : {}),
  };
}
