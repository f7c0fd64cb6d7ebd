import { expect } from 'vitest';
import { CookieBrowser, field, formAction } from './browser.ts';
import { basicAuth } from './basic.ts';

export interface OwnerCredentials {
  email: string;
  password: string;
}

/** A page of the "Add to app" flow, as the owner's browser saw it. */
export interface FlowPage {
  step: 'login' | 'picker' | 'consent';
  /** Where the browser was when it got the page. */
  url: string;
  /** The page's response, its body already read into `html`. */
  response: Response;
  html: string;
}

export interface FlowWalk {
  /** Every page shown, in order: a test asserts `login → picker → consent` on their steps. */
  pages: FlowPage[];
  /** The final redirect to the partner; absent when the walk stopped at a page (`stopAt`). */
  callback: URL | undefined;
}

export interface FlowChoice {
  appId?: string;
  decision?: 'allow' | 'deny';
  /** Stop on reaching this page, without acting on it, to drive it by hand. */
  stopAt?: FlowPage['step'];
}

function stepOf(page: string): FlowPage['step'] {
  if (page.includes('name="password"')) return 'login';
  if (page.includes('name="app" value=') && page.includes('type="radio"')) return 'picker';
  if (page.includes('name="decision"')) return 'consent';
  throw new Error(`unexpected page:\n${page}`);
}

/**
 * Walks /oauth/authorize as an app owner's browser: follows redirects to the
 * login page, logs in, picks the app (when asked) and presses Allow or Deny,
 * keeping every page it was shown.
 */
export async function walkAuthorization(
  browser: CookieBrowser,
  query: Record<string, string>,
  owner: OwnerCredentials,
  choice: FlowChoice = {},
): Promise<FlowWalk> {
  const pages: FlowPage[] = [];
  let location = followable(await browser.get(`/oauth/authorize?${new URLSearchParams(query)}`), browser.base);
  for (let hops = 0; hops < 12; hops += 1) {
    if (!location.startsWith(browser.base)) return { pages, callback: new URL(location) };
    const response = await browser.get(location);
    if (response.status === 303 || response.status === 302) {
      location = followable(response, browser.base);
      continue;
    }
    const html = await response.text();
    expect(response.status, html).toBe(200);
    const page: FlowPage = { step: stepOf(html), url: location, response, html };
    pages.push(page);
    if (page.step === choice.stopAt) return { pages, callback: undefined };
    if (page.step === 'picker') {
      // The picker is a GET form: the chosen app goes in the query of the consent page.
      location = `${location.split('?')[0]}?app=${choice.appId ?? field(html, 'app') ?? ''}`;
      continue;
    }
    location = followable(await act(browser, page, owner, choice.decision ?? 'allow'), browser.base);
  }
  throw new Error('too many redirects');
}

/** Walks the flow to its end and returns the redirect to the partner. */
export async function authorizeThroughPages(
  browser: CookieBrowser,
  query: Record<string, string>,
  owner: OwnerCredentials,
  choice: Omit<FlowChoice, 'stopAt'> = {},
): Promise<URL> {
  const { callback } = await walkAuthorization(browser, query, owner, choice);
  return callback!;
}

/** Logs in on a login page, or answers a consent page. */
function act(browser: CookieBrowser, page: FlowPage, owner: OwnerCredentials, decision: 'allow' | 'deny'): Promise<Response> {
  const csrf = field(page.html, '_csrf') ?? '';
  if (page.step === 'login') return browser.post(formAction(page.html, '/login'), { _csrf: csrf, email: owner.email, password: owner.password });
  return browser.post(formAction(page.html, '/consent'), { _csrf: csrf, app: field(page.html, 'app') ?? '', decision });
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
      authorization: basicAuth(client.id, client.secret),
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
      authorization: basicAuth(client.id, client.secret),
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ token }),
  });
  expect(response.status).toBe(200);
  return (await response.json()) as Record<string, unknown>;
}
