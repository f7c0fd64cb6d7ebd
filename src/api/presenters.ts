import { defaultAppSettings, type App } from '../apps/apps.ts';
import type { PublicApiKey } from '../credentials/api-keys.ts';

/** An app in the v2 API's shape. */
export function presentApp(app: App) {
  return {
    id: app.id,
    displayName: app.display_name,
    settings: { ...defaultAppSettings, ...app.settings },
    metadata: app.metadata ?? null,
  };
}

/** A key in the v2 API's shape; the secret only when it was just created. */
export function presentKey(key: PublicApiKey, secret?: string) {
  return {
    id: key.id,
    displayName: key.display_name,
    ...(secret ? { secret } : {}),
    permissions: key.permissions,
    expiresAt: key.expires_at ? new Date(key.expires_at).toISOString() : null,
    allowedIps: key.allowed_ips,
    createdAt: new Date(key.created_at).toISOString(),
    lastUsedAt: key.last_used_at ? new Date(key.last_used_at).toISOString() : null,
  };
}
