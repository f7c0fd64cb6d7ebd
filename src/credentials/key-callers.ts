import type { App } from '../apps/apps.ts';
import { permissionsOfLevel, type Level } from '../permissions/catalog.ts';
import type { ApiKeyRow } from './api-keys.ts';
import type { Caller, Resolution } from './caller.ts';
import { addressInRanges } from './ip-ranges.ts';
import type { UsageRecorder } from './usage-recorder.ts';

/**
 * The caller an API key proves, once its secret checked out (Basic or JWT):
 * refused (403) when the key has expired or the client is outside its
 * allowed ranges, otherwise its permissions at the level it acts at.
 */
export function keyCaller(
  { key, app }: { key: ApiKeyRow; app?: App | null },
  credential: 'basic' | 'jwt',
  level: Level,
  clientIp: string,
  usage: UsageRecorder,
  extra: Partial<Caller> = {},
): Resolution {
  if (key.expires_at && new Date(key.expires_at).getTime() <= Date.now()) {
    usage.keyRefused(key, 'expired', clientIp);
    return { outcome: 'forbidden', reason: 'expired' };
  }
  if (key.allowed_ips.length && !addressInRanges(clientIp, key.allowed_ips)) {
    usage.keyRefused(key, 'outside_ranges', clientIp);
    return { outcome: 'forbidden', reason: 'ip_not_allowed' };
  }
  usage.keyUsed(key.id);
  const ofLevel = permissionsOfLevel(level);
  const granted = key.permissions.filter((name) => ofLevel.includes(name));
  return {
    outcome: 'caller',
    ...(app !== undefined ? { app } : {}),
    caller: {
      credential,
      level,
      accountId: key.account_id,
      ...(key.app_id ? { appId: key.app_id } : {}),
      ...(key.service_account_id ? { serviceAccountId: key.service_account_id } : {}),
      permissions: new Set(granted),
      keyId: key.id,
      key: { permissions: key.permissions, expiresAt: key.expires_at ? new Date(key.expires_at) : null, allowedIps: key.allowed_ips },
      ...extra,
    },
  };
}
