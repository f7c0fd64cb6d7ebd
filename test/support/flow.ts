import { expect } from 'vitest';
import { CookieBrowser, field, formAction } from './browser.ts';

export interface OwnerCredentials {
  email: string;
  password: string;
}

/**
 * Walks /oauth/authorize as an app owner's browser: follows redirects to the
 * login page, logs in, picks the app (when asked) and presses Allow or Deny.
 * Returns the final redirect to the partner.
 */
export async function authorizeThroughPages(
  browser: CookieBrowser,
  query: Record<string, string>,
  owner: OwnerCredentials,
  choice: { appId?: string; decision?: 'allow' | 'deny' } = {},
): Promise<URL> {
  const consent = await reachConsentPage(browser, query, owner, choice);
  if (consent instanceof URL) return consent;
  return followToPartner(browser, await decide(browser, consent, choice.decision ?? 'allow'));
}

/**
 * Walks /oauth/authorize up to the consent page (logging in and picking the
 * app on the way) and returns that page, or the partner's URL when the flow
 * left for it before.
 */
export async function reachConsentPage(
  browser: CookieBrowser,
  query: Record<string, string>,
  owner: OwnerCredentials,
  choice: { appId?: string } = {},
): Promise<string | URL> {
  let response = await browser.get(`/oauth/authorize?${new URLSearchParams(query)}`);
  let location = followable(response, browser.base);
  for (let hops = 0; hops < 12; hops += 1) {
    if (!location.startsWith(browser.base)) return new URL(location);
    response = await browser.get(location);
    if (response.status === 303 || response.status === 302) {
      location = followable(response, browser.base);
      continue;
    }
    const page = await response.text();
    expect(response.status, page).toBe(200);
    if (page.includes('name="password"')) {
      response = await browser.post(formAction(page, '/login'), {
        _csrf: field(page, '_csrf') ?? '',
        email: owner.email,
        password: owner.password,
      });
    } else if (page.includes('name="app" value=') && page.includes('type="radio"')) {
      const appId = choice.appId ?? field(page, 'app') ?? '';
      response = await browser.get(`${location.split('?')[0]}?app=${appId}`);
      return response.text();
    } else if (page.includes('name="decision"')) {
      return page;
    } else {
      throw new Error(`unexpected page:\n${page}`);
    }
    location = followable(response, browser.base);
  }
  throw new Error('too many redirects');
}

/** Follows a response's redirects on this server until one leaves for the partner. */
async function followToPartner(browser: CookieBrowser, response: Response): Promise<URL> {
  let location = followable(response, browser.base);
  for (let hops = 0; hops < 12 && location.startsWith(browser.base); hops += 1) {
    location = followable(await browser.get(location), browser.base);
  }
  return new URL(location);
}

export async function decide(browser: CookieBrowser, page: string, decision: 'allow' | 'deny'): Promise<Response> {
  return browser.post(formAction(page, '/consent'), {
    _csrf: field(page, '_csrf') ?? '',
    app: field(page, 'app') ?? '',
    decision,
  });
}

/** The absolute target of a redirect response. */
export function followable(response: Response, base: string): string {
  const location = response.headers.get('location');
  if (!location) throw new Error(`expected a redirect, got ${response.status}`);
  return new URL(location, base).toString();
}

/** What /oauth/token answers, success or error. */
export interface TokenResponse {
  access_token: string;
  refresh_token: string;
  token_type: string;
  scope: string;
  app_id: string;
  expires_in: number;
  error?: string;
  error_description?: string;
}

export async function tokenBody(response: Response): Promise<TokenResponse> {
  return (await response.json()) as TokenResponse;
}

/** Exchanges a code at /oauth/token with client_secret_basic and a form body. */
export async function exchangeCode(
  base: string,
  client: { id: string; secret: string },
  fields: Record<string, string>,
): Promise<Response> {
  return fetch(`${base}/oauth/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${encodeURIComponent(client.id)}:${encodeURIComponent(client.secret)}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'authorization_code', ...fields }),
  });
}

/** RFC 7662 introspection as `client`; `send` may check the answer on the way (test/support/contract.ts). */
export async function introspect(base: string, client: { id: string; secret: string }, token: string, send: (url: string, init: RequestInit) => Promise<Response> = fetch): Promise<Record<string, unknown>> {
  const response = await send(`${base}/oauth/introspect`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ token }),
  });
  expect(response.status).toBe(200);
  return (await response.json()) as Record<string, unknown>;
}
