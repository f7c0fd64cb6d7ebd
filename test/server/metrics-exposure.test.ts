import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSettings, SettingsError } from '../../src/config/settings.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

/**
 * Prometheus metrics: one series per route pattern, never per raw path, so
 * made-up paths cannot grow the registry; and /metrics is closed in
 * production, by a token or by a listener of its own.
 */

const token = 'metrics-token-for-the-tests-0123456789';
let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ METRICS_TOKEN: token });
});

afterAll(async () => {
  await server?.close();
});

async function scrape(base = server.url, auth: string | undefined = `Bearer ${token}`): Promise<string> {
  const response = await fetch(`${base}/metrics`, { headers: auth ? { authorization: auth } : {} });
  expect(response.status).toBe(200);
  return response.text();
}

/** The request histogram's series: one `_count` line each. */
function requestSeries(exposition: string): string[] {
  return exposition.split('\n').filter((line) => line.startsWith('appgrant_http_request_duration_seconds_count{'));
}

describe('request metrics', () => {
  it('label made-up /oauth/* and /.well-known/* paths as unmatched: 600 requests add no series', async () => {
    // One of each first, so the unmatched and /metrics series already exist.
    await fetch(`${server.url}/oauth/warm-up`);
    await fetch(`${server.url}/.well-known/warm-up`);
    await scrape();
    const before = requestSeries(await scrape());
    for (let index = 0; index < 300; index += 1) {
      await fetch(`${server.url}/oauth/probe-${index}`);
      await fetch(`${server.url}/.well-known/probe-${index}`);
    }
    const after = requestSeries(await scrape());
    expect(after.length).toBe(before.length);
    expect(after.join('\n')).not.toContain('probe-');
    expect(after.some((line) => line.includes('route="unmatched"') && line.includes('status="404"'))).toBe(true);
  });

  it('label engine routes by their pattern', async () => {
    await fetch(`${server.url}/.well-known/oauth-authorization-server`);
    await fetch(`${server.url}/oauth/authorize/some-interaction-uid`);
    await fetch(`${server.url}/oauth/token`, { method: 'POST' });
    const series = requestSeries(await scrape()).join('\n');
    // RFC 8414 metadata is the engine's discovery route.
    expect(series).toContain('route="/.well-known/openid-configuration"');
    expect(series).toContain('route="/oauth/authorize/:uid"');
    expect(series).toContain('route="/oauth/token"');
    expect(series).not.toContain('some-interaction-uid');
  });

  it('label API routes by their pattern, never an id', async () => {
    await fetch(`${server.url}/v2/apps/0123456789abcdef01234567`);
    const series = requestSeries(await scrape()).join('\n');
    expect(series).toContain('route="/v2/apps/:appId"');
    expect(series).not.toContain('0123456789abcdef01234567');
  });
});

describe('/metrics access', () => {
  it('needs the token when METRICS_TOKEN is set', async () => {
    const refused = await fetch(`${server.url}/metrics`);
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toMatch(/^Bearer /);
    expect((await fetch(`${server.url}/metrics`, { headers: { authorization: 'Bearer wrong-token-of-enough-length' } })).status).toBe(401);
    expect(await scrape()).toContain('appgrant_http_request_duration_seconds');
  });

  it('refuses to start in production with neither a token nor a listener of its own', () => {
    const production = {
      NODE_ENV: 'production',
      ISSUER: 'https://auth.example.com',
      KEY_ENCRYPTION_KEYS: 'k1:0123456789abcdef0123456789abcdef',
      COOKIE_KEYS: 'cookie-key-0123456789abcdef0123456789',
    };
    expect(() => loadSettings(production)).toThrow(SettingsError);
    expect(() => loadSettings(production)).toThrow(/METRICS_TOKEN or METRICS_PORT/);
    expect(loadSettings({ ...production, METRICS_TOKEN: token }).METRICS_TOKEN).toBe(token);
    expect(loadSettings({ ...production, METRICS_PORT: '9464' }).METRICS_PORT).toBe(9464);
  });
});

describe('/metrics on a listener of its own (METRICS_PORT)', () => {
  let separate: TestServer;

  beforeAll(async () => {
    separate = await startTestServer({ METRICS_PORT: '0', METRICS_HOST: '127.0.0.1' });
  });

  afterAll(async () => {
    await separate?.close();
  });

  it('is served there only', async () => {
    expect(separate.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(separate.metricsUrl).not.toBe(separate.url);
    expect((await fetch(`${separate.url}/metrics`)).status).toBe(404);
    await fetch(`${separate.url}/healthz`);
    expect(await scrape(separate.metricsUrl, undefined)).toContain('route="/healthz"');
    expect((await fetch(`${separate.metricsUrl}/healthz`)).status).toBe(404);
  });
});
