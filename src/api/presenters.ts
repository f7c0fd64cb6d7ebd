import { z } from 'zod';
import { appMetadataValues, appSettings, defaultAppSettings, type App } from '../apps/apps.ts';
import type { PublicApiKey } from '../credentials/api-keys.ts';
import type { Caller } from '../credentials/caller.ts';
import type { Installation } from '../authorizations/authorizations.ts';
import { eventSchema } from '../events/events.ts';
import { permissionCatalog } from '../permissions/catalog.ts';

/**
 * What the v2 API answers, as schemas: the presenters' return types are
 * read from them, and the OpenAPI document (openapi.ts) is generated from
 * them, so the document and the answers cannot part ways. Objects are
 * closed: a field the schema does not name fails the contract tests.
 */

const timestamp = z.iso.datetime();
const permissionName = z.enum(permissionCatalog.map((permission) => permission.name) as [string, ...string[]]);

export const apiAppSchema = z
  .object({
    id: z.string(),
    displayName: z.string(),
    settings: appSettings.required(),
    metadata: appMetadataValues.nullable(),
  })
  .strict();

export const apiKeySchema = z
  .object({
    id: z.string(),
    displayName: z.string(),
    permissions: z.array(permissionName),
    expiresAt: timestamp.nullable(),
    allowedIps: z.array(z.string()).meta({ description: 'IP addresses and CIDR ranges the key may be used from; empty: anywhere' }),
    createdAt: timestamp,
    lastUsedAt: timestamp.nullable(),
  })
  .strict();

/** A key just created: the only answer that ever carries its secret. */
export const newApiKeySchema = apiKeySchema.extend({ secret: z.string().meta({ description: 'Shown once; never again' }) }).strict();

export const apiCredentialSchema = z
  .object({
    type: z.enum(['basic', 'jwt', 'bearer']),
    level: z.enum(['app', 'account', 'appUser']),
    accountId: z.string(),
    appId: z.string().optional(),
    userId: z.string().optional(),
    externalId: z.string().optional(),
    keyId: z.string().optional(),
    clientId: z.string().optional(),
    permissions: z.array(permissionName),
  })
  .strict();

/** An app in the v2 API's shape. */
export function presentApp(app: App): z.output<typeof apiAppSchema> {
  return {
    id: app.id,
    displayName: app.display_name,
    settings: { ...defaultAppSettings, ...app.settings },
    metadata: app.metadata ?? null,
  };
}

/** A key in the v2 API's shape. */
export function presentKey(key: PublicApiKey): z.output<typeof apiKeySchema> {
  return {
    id: key.id,
    displayName: key.display_name,
    permissions: key.permissions,
    expiresAt: key.expires_at ? new Date(key.expires_at).toISOString() : null,
    allowedIps: key.allowed_ips,
    createdAt: new Date(key.created_at).toISOString(),
    lastUsedAt: key.last_used_at ? new Date(key.last_used_at).toISOString() : null,
  };
}

/** A key just created, with its secret. */
export function presentNewKey(key: PublicApiKey, secret: string): z.output<typeof newApiKeySchema> {
  const { id, displayName, ...rest } = presentKey(key);
  return { id, displayName, secret, ...rest };
}

/** Who the credentials of a request belong to (GET /v2/credentials/current). */
export function presentCredential(caller: Caller): z.output<typeof apiCredentialSchema> {
  return {
    type: caller.credential,
    level: caller.level,
    accountId: caller.accountId,
    ...(caller.appId ? { appId: caller.appId } : {}),
    ...(caller.user ?? {}),
    ...(caller.keyId ? { keyId: caller.keyId } : {}),
    ...(caller.clientId ? { clientId: caller.clientId } : {}),
    permissions: [...caller.permissions],
  };
}

/** The answers of the v2 routes, each the envelope of the presented objects. */
export const appAnswer = z.object({ app: apiAppSchema }).strict();

export const appListAnswer = z
  .object({
    apps: z.array(apiAppSchema),
    meta: z.object({ hasMore: z.boolean(), afterCursor: z.string().optional(), beforeCursor: z.string().optional() }).strict(),
    links: z.object({ next: z.url().optional(), prev: z.url().optional() }).strict(),
  })
  .strict();

export const keyAnswer = z.object({ key: apiKeySchema }).strict();
export const newKeyAnswer = z.object({ key: newApiKeySchema }).strict();
export const keyListAnswer = z.object({ keys: z.array(apiKeySchema) }).strict();
export const credentialAnswer = z.object({ credential: apiCredentialSchema }).strict();

export const eventListAnswer = z
  .object({
    events: z.array(eventSchema),
    meta: z.object({ hasMore: z.boolean(), beforeCursor: z.string().optional() }).strict(),
    links: z.object({ next: z.url().optional() }).strict(),
  })
  .strict();

/** What a deletion answers: an empty object. */
export const emptyAnswer = z.object({}).strict();

/** One of a partner's installations, as GET /v2/partner/installations shows it. */
export const installationSchema = z
  .object({
    id: z.string().meta({ description: 'The authorization: one per app the integration is installed on' }),
    app: z.object({ id: z.string(), displayName: z.string() }).strict(),
    permissions: z.array(z.string()),
    approvedAt: z.iso.datetime(),
    updatedAt: z.iso.datetime().nullable().meta({ description: 'When a later approval last changed the permissions' }),
    lastUsedAt: z.iso.datetime().nullable().meta({ description: 'The last API call with its tokens (kept to the minute)' }),
    lastRefreshAt: z.iso.datetime().nullable().meta({ description: 'The last refresh token exchanged for it' }),
    state: z.enum(['active', 'suspended']).meta({ description: 'suspended: the platform operator suspended the integration; its tokens are refused' }),
  })
  .strict();

export const installationListAnswer = z
  .object({
    installations: z.array(installationSchema),
    meta: z.object({ hasMore: z.boolean(), afterCursor: z.string().optional(), beforeCursor: z.string().optional() }).strict(),
    links: z.object({ next: z.url().optional(), prev: z.url().optional() }).strict(),
  })
  .strict();

const isoOrNull = (value: Date | null) => (value ? new Date(value).toISOString() : null);

export function presentInstallation(installation: Installation): z.output<typeof installationSchema> {
  return {
    id: installation.id,
    app: { id: installation.app_id, displayName: installation.app_name },
    permissions: installation.permissions,
    approvedAt: new Date(installation.created_at).toISOString(),
    updatedAt: isoOrNull(installation.updated_at),
    lastUsedAt: isoOrNull(installation.last_used_at),
    lastRefreshAt: isoOrNull(installation.last_refreshed_at),
    state: installation.partner_suspended_at ? 'suspended' : 'active',
  };
}
