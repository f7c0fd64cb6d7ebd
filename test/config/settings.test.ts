import { describe, expect, it } from 'vitest';
import { loadSettings, SettingsError } from '../../src/config/settings.ts';

/**
 * Settings are read once, from the environment (README, "Configuration"):
 * safe defaults, one line naming each bad value, and production refusing to
 * start without what it must have.
 */

const key = 'k1:0123456789abcdef0123456789abcdef';
const production = {
  NODE_ENV: 'production',
  ISSUER: 'https://auth.example',
  KEY_ENCRYPTION_KEYS: key,
  METRICS_TOKEN: 'a-metrics-token-long-enough',
  COOKIE_KEYS: 'a-cookie-signing-key-of-at-least-32-characters',
};

describe('defaults', () => {
  it('serve a development machine with nothing set', () => {
    const settings = loadSettings({});
    expect(settings).toMatchObject({
      production: false,
      PORT: 3000,
      ISSUER: 'http://localhost:3000',
      AUTHORIZATION_CODE_TTL: 60,
      REFRESH_TOKENS: true,
      LOGIN_MAX_FAILURES_PER_ACCOUNT: 5,
      EVENT_RETENTION_DAYS: 400,
      SHUTDOWN_DRAIN: 0,
      TRUST_PROXY: { kind: 'none' },
      CORS_ORIGINS: [],
    });
  });

  it('read empty values as unset', () => {
    expect(loadSettings({ PORT: '', ISSUER: '' }).ISSUER).toBe('http://localhost:3000');
  });

  it('drain for 5 s before stopping in production', () => {
    expect(loadSettings(production).SHUTDOWN_DRAIN).toBe(5);
  });
});

describe('values', () => {
  it('are coerced and normalized: numbers, flags, a trailing slash, origins, key pairs', () => {
    const settings = loadSettings({
      PORT: '8080',
      REFRESH_TOKENS: 'no',
      ISSUER: 'https://auth.example/',
      CORS_ORIGINS: 'https://app.example/path, *',
      KEY_ENCRYPTION_KEYS: `${key}, k2:abcdefghijklmnopqrstuvwxyz012345`,
    });
    expect(settings).toMatchObject({ PORT: 8080, REFRESH_TOKENS: false, ISSUER: 'https://auth.example', CORS_ORIGINS: ['https://app.example', '*'] });
    expect(settings.KEY_ENCRYPTION_KEYS?.map((entry) => entry.id)).toEqual(['k1', 'k2']);
  });

  it.each([
    [{ PORT: 'abc' }, /^invalid configuration: PORT: /],
    [{ PORT: '70000' }, /PORT/],
    [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL/],
    [{ DATABASE_URL: 'mysql://db/app' }, /DATABASE_URL/],
    [{ REFRESH_TOKENS: 'maybe' }, /REFRESH_TOKENS/],
    [{ COOKIE_KEYS: 'short' }, /COOKIE_KEYS\.0: each key must be at least 32 characters/],
    [{ KEY_ENCRYPTION_KEYS: `${key},${key}` }, /KEY_ENCRYPTION_KEYS: key ids must be unique/],
    [{ ISSUER: 'https://auth.example/?tenant=1' }, /ISSUER: must not carry a query or fragment/],
    [{ PASSWORD_HASH_MEMORY_KIB: '1024' }, /PASSWORD_HASH_MEMORY_KIB/],
    [{ EVENTS_EXPORT_TOKEN: 'short' }, /EVENTS_EXPORT_TOKEN: must be at least 32 characters/],
    [{ SIGNING_KEY_ACTIVATION_DELAY: '5' }, /SIGNING_KEY_ACTIVATION_DELAY: must be at least twice SIGNING_KEYS_REFRESH_INTERVAL_MS/],
    [{ SIGNING_KEY_RETIRED_RETENTION: '60' }, /SIGNING_KEY_RETIRED_RETENTION: must cover the removal notice retry window/],
  ] as const)('%j is refused, naming the variable', (env, message) => {
    expect(() => loadSettings(env)).toThrow(SettingsError);
    expect(() => loadSettings(env)).toThrow(message);
  });

  it('names every bad variable on the one line', () => {
    expect(() => loadSettings({ PORT: 'abc', LOG_LEVEL: 'loud' })).toThrow(/PORT: .*; LOG_LEVEL: /);
  });
});

describe('production', () => {
  it('starts with an https issuer, encryption keys and a way to protect /metrics', () => {
    expect(loadSettings(production).production).toBe(true);
  });

  it.each([
    ['ISSUER', /ISSUER: required in production/],
    ['KEY_ENCRYPTION_KEYS', /KEY_ENCRYPTION_KEYS: required in production/],
    ['METRICS_TOKEN', /METRICS_TOKEN or METRICS_PORT/],
    ['COOKIE_KEYS', /COOKIE_KEYS: required in production/],
  ])('refuses to start without %s', (name, message) => {
    const { [name as keyof typeof production]: _left, ...rest } = production;
    expect(() => loadSettings(rest)).toThrow(message);
  });

  it.each([
    [{ ISSUER: 'http://auth.example' }, /ISSUER: must be an https:\/\/ URL in production/],
    [{ SEED_DEMO: 'true' }, /SEED_DEMO: demo data .* is never seeded in production/],
    [{ OUTBOUND_ALLOW_PRIVATE_TARGETS: 'true' }, /OUTBOUND_ALLOW_PRIVATE_TARGETS: is for development and tests only/],
  ] as const)('refuses %j', (extra, message) => {
    expect(() => loadSettings({ ...production, ...extra })).toThrow(message);
  });
});
