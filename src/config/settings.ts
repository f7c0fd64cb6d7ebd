import ipaddr from 'ipaddr.js';
import { z } from 'zod';

/**
 * Every setting comes from the environment and is validated once at start.
 * A bad value stops the process with one line naming the variable, so an
 * operator never runs with a half-understood configuration.
 */

const booleanFlag = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((value) => value === 'true' || value === '1' || value === 'yes');

const seconds = (fallback: number) => z.coerce.number().int().positive().default(fallback);

/** How long to wait for the database, in milliseconds: long enough for a busy moment, short enough to answer 503 before a client gives up. */
const databaseDeadline = (fallback: number) => z.coerce.number().int().min(100).max(600_000).default(fallback);

/** How many days a table keeps what has ended: at least one, at most ten years. */
const retentionDays = (fallback: number) => z.coerce.number().int().min(1).max(3650).default(fallback);

/** A comma-separated list of secrets, each long enough to be a key rather than a password. */
const secretList = z
  .string()
  .transform((value) => value.split(',').map((part) => part.trim()).filter(Boolean))
  .pipe(z.array(z.string().min(32, 'each key must be at least 32 characters')).min(1));

/** `id:secret` pairs, comma-separated; the first encrypts, all decrypt (so keys can be rotated). */
const keyEncryptionKeys = z
  .string()
  .transform((value) => value.split(',').map((part) => part.trim()).filter(Boolean))
  .pipe(
    z
      .array(
        z
          .string()
          .regex(/^[A-Za-z0-9_-]{1,32}:.{32,}$/, 'each entry must be id:secret with a secret of at least 32 characters')
          .transform((entry) => {
            const separator = entry.indexOf(':');
            return { id: entry.slice(0, separator), secret: entry.slice(separator + 1) };
          }),
      )
      .min(1)
      .refine((keys) => new Set(keys.map((key) => key.id)).size === keys.length, 'key ids must be unique'),
  );

/**
 * Which peers' X-Forwarded-* headers are believed. `none`: no peer's (the
 * socket address is the client). `hops`: the nearest N addresses are
 * proxies, whoever connects (only safe when nothing but the proxy can reach
 * the server). `ranges`: a peer is a proxy when its address is in one of
 * these CIDRs (canonical, IPv4-mapped IPv6 ranges written as IPv4).
 */
export type ProxyTrust = { kind: 'none' } | { kind: 'hops'; hops: number } | { kind: 'ranges'; ranges: string[] };

function proxyRange(text: string): string | undefined {
  try {
    const [address, bits] = text.includes('/') ? ipaddr.parseCIDR(text) : [ipaddr.parse(text), text.includes(':') ? 128 : 32];
    if (address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress() && bits >= 96) {
      return `${(address as ipaddr.IPv6).toIPv4Address().toString()}/${bits - 96}`;
    }
    if (address.kind() === 'ipv4' && !ipaddr.IPv4.isValidFourPartDecimal(text.split('/')[0]!)) return undefined;
    return `${address.toString()}/${bits}`;
  } catch {
    return undefined;
  }
}

/** TRUST_PROXY: false, true (one hop), a number of hops, or a comma-separated list of proxy addresses or CIDRs. */
const proxyTrust = z.string().transform((value, ctx): ProxyTrust => {
  const text = value.trim().toLowerCase();
  if (['false', 'no', '0'].includes(text)) return { kind: 'none' };
  if (['true', 'yes'].includes(text)) return { kind: 'hops', hops: 1 };
  if (/^\d+$/.test(text)) {
    const hops = Number(text);
    if (hops <= 10) return { kind: 'hops', hops };
  } else {
    const entries = text.split(',').map((part) => part.trim()).filter(Boolean);
    const ranges = entries.map(proxyRange);
    const bad = entries.filter((_entry, index) => !ranges[index]);
    if (entries.length && !bad.length) return { kind: 'ranges', ranges: ranges as string[] };
    if (bad.length) {
      ctx.addIssue({ code: 'custom', message: `not an IP address or CIDR: ${bad.join(', ')}` });
      return z.NEVER;
    }
  }
  ctx.addIssue({ code: 'custom', message: 'must be false, true, a number of proxy hops (1-10), or a comma-separated list of proxy addresses/CIDRs' });
  return z.NEVER;
});

const originList = z
  .string()
  .transform((value) => value.split(',').map((part) => part.trim()).filter(Boolean))
  .pipe(z.array(z.union([z.literal('*'), z.url().transform((origin) => new URL(origin).origin)])));

/** The wait before a removal notice's next attempt, after `attempts` failed ones: exponential backoff. */
export function noticeBackoffMs(retryBaseMs: number, attempts: number): number {
  return retryBaseMs * 2 ** Math.min(attempts - 1, 16);
}

/** How long after its first attempt a removal notice may still be sent (and signed): every backoff and every timeout. */
export function noticeRetryWindowMs(retryBaseMs: number, maxAttempts: number, timeoutMs: number): number {
  let window = maxAttempts * timeoutMs;
  for (let attempts = 1; attempts < maxAttempts; attempts += 1) window += noticeBackoffMs(retryBaseMs, attempts);
  return window;
}

const settingsSchema = z
  .object({
    NODE_ENV: z.enum(['production', 'development', 'test']).default('development'),
    HOST: z.string().min(1).default('0.0.0.0'),
    PORT: z.coerce.number().int().min(0).max(65535).default(3000),
    ISSUER: z.url({ protocol: /^https?$/ }).optional(),
    DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).optional(),
    DATA_DIR: z.string().min(1).default('data'),
    REDIS_URL: z.url({ protocol: /^rediss?$/ }).optional(),
    DATABASE_CONNECT_TIMEOUT_MS: databaseDeadline(3000),
    DATABASE_STATEMENT_TIMEOUT_MS: databaseDeadline(5000),
    DATABASE_ACQUIRE_TIMEOUT_MS: databaseDeadline(3000),
    DATABASE_NAMED_STATEMENTS: booleanFlag.default(true),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    COOKIE_KEYS: secretList.optional(),
    TRUST_PROXY: proxyTrust.default({ kind: 'none' }),
    KEY_ENCRYPTION_KEYS: keyEncryptionKeys.optional(),
    CORS_ORIGINS: originList.default([]),
    JWT_CLOCK_TOLERANCE: z.coerce.number().int().min(0).max(600).default(60),
    SEED_DEMO: booleanFlag.optional(),
    AUTHORIZATION_CODE_TTL: seconds(60),
    ACCESS_TOKEN_TTL: seconds(3600),
    REFRESH_TOKENS: booleanFlag.default(true),
    REFRESH_TOKEN_TTL: seconds(30 * 24 * 3600),
    REFRESH_TOKEN_REUSE_GRACE_SECONDS: z.coerce.number().int().min(0).max(600).default(60),
    SESSION_TTL: seconds(8 * 3600),
    INTERACTION_TTL: seconds(15 * 60),
    PASSWORD_HASH_MEMORY_KIB: z.coerce.number().int().min(19456).default(19456),
    PASSWORD_HASH_ITERATIONS: z.coerce.number().int().min(2).default(2),
    PASSWORD_HASH_PARALLELISM: z.coerce.number().int().min(1).default(1),
    LOGIN_MAX_FAILURES_PER_ACCOUNT: z.coerce.number().int().positive().default(5),
    LOGIN_MAX_FAILURES_PER_IP: z.coerce.number().int().positive().default(30),
    LOGIN_FAILURE_WINDOW: seconds(15 * 60),
    SHUTDOWN_DRAIN: z.coerce.number().int().min(0).max(300).optional(),
    CLIENT_AUTH_MAX_FAILURES_PER_CLIENT: z.coerce.number().int().positive().default(10),
    CLIENT_AUTH_MAX_FAILURES_PER_IP: z.coerce.number().int().positive().default(10),
    CLIENT_AUTH_FAILURE_WINDOW: seconds(60),
    PASSWORD_VERIFICATIONS_PER_SECOND: z.coerce.number().int().positive().default(40),
    SHUTDOWN_GRACE: seconds(10),
    SECRET_ROTATION_GRACE: seconds(24 * 3600),
    METRICS_TOKEN: z.string().min(16).optional(),
    METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
    METRICS_HOST: z.string().min(1).default('127.0.0.1'),
    EVENTS_EXPORT_TOKEN: z.string().min(32, 'must be at least 32 characters').optional(),
    EVENT_RETENTION_DAYS: retentionDays(400),
    ENDED_AUTHORIZATION_RETENTION_DAYS: retentionDays(90),
    ENDED_KEY_RETENTION_DAYS: retentionDays(90),
    SETTLED_NOTICE_RETENTION_DAYS: retentionDays(30),
    RETENTION_SWEEP_INTERVAL: z.coerce.number().int().min(1).max(24 * 3600).default(300),
    RETENTION_SWEEP_BATCH: z.coerce.number().int().min(1).max(100_000).default(1000),
    DASHBOARD_SESSION_TTL: seconds(8 * 3600),
    NOTICE_POLL_INTERVAL_MS: z.coerce.number().int().min(50).default(2000),
    NOTICE_RETRY_BASE_MS: z.coerce.number().int().min(10).default(5000),
    NOTICE_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(50).default(12),
    NOTICE_TIMEOUT_MS: z.coerce.number().int().min(100).default(5000),
    SIGNING_KEYS_REFRESH_INTERVAL_MS: z.coerce.number().int().min(50).default(5000),
    SIGNING_KEY_ACTIVATION_DELAY: seconds(60),
    SIGNING_KEY_RETIRED_RETENTION: seconds(24 * 3600),
    OUTBOUND_ALLOW_PRIVATE_TARGETS: booleanFlag.default(false),
    OUTBOUND_PROXY_URL: z
      .url({ protocol: /^http$/, error: 'must be an http:// URL of an HTTP CONNECT proxy' })
      .refine((value) => !URL.canParse(value) || /^[a-z][a-z0-9+.-]*:\/\/[^/?#]+\/?$/i.test(value), 'must be a proxy address without a path or query')
      .optional(),
  })
  .superRefine((value, ctx) => {
    if (value.SIGNING_KEY_ACTIVATION_DELAY * 1000 < 2 * value.SIGNING_KEYS_REFRESH_INTERVAL_MS) {
      ctx.addIssue({
        code: 'custom',
        path: ['SIGNING_KEY_ACTIVATION_DELAY'],
        message: 'must be at least twice SIGNING_KEYS_REFRESH_INTERVAL_MS, so every instance publishes a key before any signs with it',
      });
    }
    const retryWindowSeconds = Math.ceil(noticeRetryWindowMs(value.NOTICE_RETRY_BASE_MS, value.NOTICE_MAX_ATTEMPTS, value.NOTICE_TIMEOUT_MS) / 1000);
    if (value.SIGNING_KEY_RETIRED_RETENTION < retryWindowSeconds) {
      ctx.addIssue({
        code: 'custom',
        path: ['SIGNING_KEY_RETIRED_RETENTION'],
        message: `must cover the removal notice retry window (${retryWindowSeconds} s with these NOTICE_ settings)`,
      });
    }
    if (value.NODE_ENV === 'production' && value.ISSUER && !value.ISSUER.startsWith('https://')) {
      ctx.addIssue({ code: 'custom', path: ['ISSUER'], message: 'must be an https:// URL in production' });
    }
    if (value.NODE_ENV === 'production' && value.SEED_DEMO) {
      ctx.addIssue({ code: 'custom', path: ['SEED_DEMO'], message: 'demo data (with published passwords and secrets) is never seeded in production' });
    }
    if (value.NODE_ENV === 'production' && value.OUTBOUND_ALLOW_PRIVATE_TARGETS) {
      ctx.addIssue({ code: 'custom', path: ['OUTBOUND_ALLOW_PRIVATE_TARGETS'], message: 'is for development and tests only, never production' });
    }
    if (value.ISSUER && /[?#]/.test(value.ISSUER)) {
      ctx.addIssue({ code: 'custom', path: ['ISSUER'], message: 'must not carry a query or fragment' });
    }
  });

type RawSettings = z.infer<typeof settingsSchema>;

/** Every environment variable appgrant reads. */
export const settingNames: readonly string[] = Object.keys(settingsSchema.shape);

export interface Settings extends Omit<RawSettings, 'ISSUER' | 'SHUTDOWN_DRAIN'> {
  /** Public base URL without a trailing slash; defaults to http://localhost:PORT outside production. */
  ISSUER: string;
  /** Seconds /readyz answers 503 after SIGTERM while requests are still served: 5 in production, else 0 (Ctrl-C stops at once). */
  SHUTDOWN_DRAIN: number;
  production: boolean;
}

export class SettingsError extends Error {}

/** Parses the environment; throws a SettingsError whose message names each bad variable. */
export function loadSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
  const parsed = settingsSchema.safeParse(present);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `${issue.path.join('.') || 'environment'}: ${issue.message}`);
    throw new SettingsError(`invalid configuration: ${lines.join('; ')}`);
  }
  const raw = parsed.data;
  const production = raw.NODE_ENV === 'production';
  if (production && !raw.KEY_ENCRYPTION_KEYS) {
    throw new SettingsError('invalid configuration: KEY_ENCRYPTION_KEYS: required in production (id:secret pairs that encrypt API key secrets)');
  }
  if (production && !raw.COOKIE_KEYS) {
    throw new SettingsError('invalid configuration: COOKIE_KEYS: required in production (comma-separated keys of at least 32 characters that sign cookies)');
  }
  if (production && !raw.METRICS_TOKEN && raw.METRICS_PORT === undefined) {
    throw new SettingsError(
      'invalid configuration: METRICS_TOKEN or METRICS_PORT: one is required in production (a token /metrics asks for, or a separate private listener for it)',
    );
  }
  if (production && !raw.ISSUER) {
    throw new SettingsError('invalid configuration: ISSUER: required in production (the public https:// base URL)');
  }
  const issuer = (raw.ISSUER ?? `http://localhost:${raw.PORT}`).replace(/\/+$/, '');
  return { ...raw, ISSUER: issuer, SHUTDOWN_DRAIN: raw.SHUTDOWN_DRAIN ?? (production ? 5 : 0), production };
}
