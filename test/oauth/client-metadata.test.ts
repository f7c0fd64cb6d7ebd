import { describe, expect, it } from 'vitest';
import { loadSettings } from '../../src/config/settings.ts';
import { clientMetadataOf, partnerGrantTypes } from '../../src/oauth/client-metadata.ts';
import type { PartnerRow } from '../../src/partners/partners.ts';

/**
 * How a stored partner looks to the OAuth engine, without a database or an
 * engine: what the engine may do for it (grants, response modes, redirect
 * URLs) and what it never receives (a secret: only its hash).
 */

const settings = loadSettings({});
const created = new Date('2026-01-01T00:00:00Z');

function partnerRow(overrides: Partial<PartnerRow> = {}): PartnerRow {
  return {
    id: 'ptn_0123456789abcdef01234567',
    role: 'partner',
    name: 'HelpDesk Pro',
    account_id: null,
    logo_url: null,
    website: null,
    redirect_uris: ['https://helpdesk.example/callback', 'https://helpdesk.example/other'],
    permissions: ['app:read', 'message:send'],
    remove_url: null,
    description: null,
    developer: null,
    privacy_policy_url: null,
    terms_url: null,
    secret_hash: '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA',
    previous_secret_hash: null,
    previous_secret_expires_at: null,
    approved: true,
    suspended_at: null,
    deleted_at: null,
    created_at: created,
    updated_at: created,
    ...overrides,
  };
}

describe('a partner as an engine client', () => {
  it('uses the code flow with its registered URLs in order, its permissions, and client_secret_basic by default', () => {
    expect(clientMetadataOf(partnerRow(), settings)).toEqual({
      client_id: 'ptn_0123456789abcdef01234567',
      client_secret: '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA',
      client_name: 'HelpDesk Pro',
      token_endpoint_auth_method: 'client_secret_basic',
      role: 'partner',
      redirect_uris: ['https://helpdesk.example/callback', 'https://helpdesk.example/other'],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      response_modes: ['query', 'form_post'],
      permissions: ['app:read', 'message:send'],
    });
  });

  it('shows its logo and website when it has them', () => {
    const metadata = clientMetadataOf(partnerRow({ logo_url: 'https://helpdesk.example/logo.png', website: 'https://helpdesk.example' }), settings);
    expect(metadata).toMatchObject({ logo_uri: 'https://helpdesk.example/logo.png', client_uri: 'https://helpdesk.example' });
  });

  it('carries a rotated-out secret hash with its end as a Unix time, and nothing when there is none', () => {
    const expires = new Date('2026-02-01T12:00:00.900Z');
    const metadata = clientMetadataOf(partnerRow({ previous_secret_hash: '$argon2id$old', previous_secret_expires_at: expires }), settings);
    expect(metadata.previous_secret).toEqual({ hash: '$argon2id$old', expires_at: Math.floor(expires.getTime() / 1000) });
    expect(clientMetadataOf(partnerRow({ previous_secret_hash: '$argon2id$old' }), settings)).not.toHaveProperty('previous_secret');
  });

  it('gets no refresh tokens when they are switched off', () => {
    const noRefresh = loadSettings({ REFRESH_TOKENS: 'false' });
    expect(partnerGrantTypes(noRefresh)).toEqual(['authorization_code']);
    expect(clientMetadataOf(partnerRow(), noRefresh).grant_types).toEqual(['authorization_code']);
  });
});

describe('a suspended partner as an engine client', () => {
  it('may use no grant and start no authorization, and says it is suspended; its URLs and permissions stay', () => {
    const metadata = clientMetadataOf(partnerRow({ suspended_at: created }), settings);
    expect(metadata).toMatchObject({ grant_types: [], response_types: [], suspended: true, permissions: ['app:read', 'message:send'] });
    expect(metadata.redirect_uris).toEqual(['https://helpdesk.example/callback', 'https://helpdesk.example/other']);
    expect(clientMetadataOf(partnerRow(), settings)).not.toHaveProperty('suspended');
  });
});

describe('a resource server as an engine client', () => {
  it('may authenticate (to introspect) and nothing else: no grant, no redirect, no permission', () => {
    const metadata = clientMetadataOf(partnerRow({ role: 'resource_server', logo_url: 'https://rs.example/logo.png' }), settings);
    expect(metadata).toMatchObject({ role: 'resource_server', grant_types: [], response_types: [], redirect_uris: [], permissions: [] });
    expect(metadata).not.toHaveProperty('logo_uri');
  });
});
