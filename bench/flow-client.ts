/**
 * The "Add to app" dance as an app owner's browser and a partner's backend
 * do it: fetch with a cookie jar and manual redirects, forms posted as
 * urlencoded, then the code exchanged at the token endpoint. Every step
 * checks the status it expects and throws a FlowError otherwise.
 */

import { CookieBrowser, field } from '../test/support/browser.ts';

export { CookieBrowser, field };

export class FlowError extends Error {
  readonly step: string;
  readonly status: number | undefined;

  constructor(step: string, status: number | undefined, detail: string) {
    super(`${step}: ${status === undefined ? '' : `HTTP ${status}: `}${detail}`);
    this.step = step;
    this.status = status;
  }
}

function formAction(page: string, endsWith: string): string | undefined {
  return new RegExp(`action="([^"]*${endsWith})"`).exec(page)?.[1];
}

const isRedirect = (status: number) => status === 302 || status === 303;

async function redirectTarget(step: string, response: Response, base: string): Promise<string> {
  const location = response.headers.get('location');
  if (!isRedirect(response.status) || !location) {
    throw new FlowError(step, response.status, `expected a redirect; ${(await response.text()).slice(0, 300)}`);
  }
  await response.body?.cancel();
  return new URL(location, base).toString();
}

export interface Partner {
  id: string;
  secret: string;
}

export interface Owner {
  email: string;
  password: string;
}

export interface FlowTarget {
  base: string;
  /**
   * The server's issuer when it is not `base` (a server reached on another
   * address than its issuer's): the engine's redirects name the issuer, and
   * the flow follows them to `base`.
   */
  issuer?: string;
  partner: Partner;
  redirectUri: string;
  owner: Owner;
}

/**
 * /oauth/authorize → login page → log in → consent page (the owner has one
 * app, so no picker) → Allow → the partner's redirect with ?code. Returns
 * the code and how many requests it took.
 */
export async function authorizeAsOwner(target: FlowTarget, state = 'bench'): Promise<{ code: string; requests: number }> {
  const browser = new CookieBrowser(target.base);
  const query = new URLSearchParams({ client_id: target.partner.id, response_type: 'code', redirect_uri: target.redirectUri, state });
  let location = await redirectTarget('authorize', await browser.get(`/oauth/authorize?${query}`), target.base);
  let loggedIn = false;
  for (let hops = 0; hops < 12; hops += 1) {
    if (location.startsWith(target.redirectUri)) {
      const callback = new URL(location);
      const code = callback.searchParams.get('code');
      if (!code) throw new FlowError('callback', undefined, `no code in ${location}`);
      if (callback.searchParams.get('state') !== state) throw new FlowError('callback', undefined, 'state mismatch');
      return { code, requests: browser.requests };
    }
    if (target.issuer && location.startsWith(`${target.issuer}/`)) location = `${target.base}${location.slice(target.issuer.length)}`;
    if (!location.startsWith(target.base)) throw new FlowError('redirect', undefined, `unexpected redirect to ${location}`);
    const response = await browser.get(location);
    if (isRedirect(response.status)) {
      location = await redirectTarget('resume', response, target.base);
      continue;
    }
    const page = await response.text();
    if (response.status !== 200) throw new FlowError('interaction page', response.status, page.slice(0, 300));
    const csrf = field(page, '_csrf') ?? '';
    const login = formAction(page, '/login');
    const consent = formAction(page, '/consent');
    if (login && !loggedIn) {
      loggedIn = true;
      const posted = await browser.post(login, { _csrf: csrf, email: target.owner.email, password: target.owner.password });
      location = await redirectTarget('login', posted, target.base);
    } else if (consent && !page.includes('type="radio"')) {
      const posted = await browser.post(consent, { _csrf: csrf, app: field(page, 'app') ?? '', decision: 'allow' });
      location = await redirectTarget('consent', posted, target.base);
    } else {
      throw new FlowError('interaction page', response.status, `unexpected page: ${page.slice(0, 300)}`);
    }
  }
  throw new FlowError('redirect', undefined, 'too many redirects');
}

export interface TokenResponse {
  access_token: string;
  refresh_token?: string;
  token_type: string;
  scope: string;
  app_id?: string;
  expires_in: number;
}

export function basicAuthorization(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

/** The form body of an authorization_code token request. */
export function codeExchangeBody(code: string, redirectUri: string): string {
  return new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri }).toString();
}

/** The form body of a refresh_token token request. */
export function refreshBody(refreshToken: string): string {
  return new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }).toString();
}

/** POST /oauth/token with client_secret_basic (and extra headers, e.g. a DPoP proof); the token response, or a FlowError. */
export async function exchangeCode(base: string, partner: Partner, code: string, redirectUri: string, headers: Record<string, string> = {}): Promise<TokenResponse> {
  const response = await fetch(new URL('/oauth/token', base), {
    method: 'POST',
    headers: { ...headers, authorization: basicAuthorization(partner.id, partner.secret), 'content-type': 'application/x-www-form-urlencoded' },
    body: codeExchangeBody(code, redirectUri),
  });
  const text = await response.text();
  if (response.status !== 200) throw new FlowError('token', response.status, text.slice(0, 300));
  const body = JSON.parse(text) as TokenResponse;
  if (typeof body.access_token !== 'string') throw new FlowError('token', response.status, 'no access_token');
  return body;
}

/** The whole dance once: authorize as the owner, then exchange the code. */
export async function addToApp(target: FlowTarget): Promise<{ token: TokenResponse; requests: number }> {
  const { code, requests } = await authorizeAsOwner(target);
  const token = await exchangeCode(target.base, target.partner, code, target.redirectUri);
  return { token, requests: requests + 1 };
}
