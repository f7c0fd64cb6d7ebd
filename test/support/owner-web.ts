import { expect } from 'vitest';
import type { Knex } from 'knex';
import { createAccount, type Account } from '../../src/accounts/accounts.ts';
import type { PasswordHasher } from '../../src/accounts/password-hasher.ts';
import { createApp, type App } from '../../src/apps/apps.ts';
import { CookieBrowser, field } from './browser.ts';

/** The dashboard session cookie's name. */
export const ownerCookie = 'appgrant.owner';

/**
 * Logs an owner in at /login with a cookie-jar browser (no JavaScript) and
 * returns it together with the raw session cookie value it was given.
 */
export async function logInToDashboard(base: string, owner: { email: string; password: string }): Promise<{ browser: CookieBrowser; sessionCookie: string }> {
  const browser = new CookieBrowser(base);
  const page = await (await browser.get('/login')).text();
  const response = await browser.post('/login', { _csrf: field(page, '_csrf') ?? '', email: owner.email, password: owner.password });
  expect(response.status, await response.clone().text()).toBe(303);
  expect(response.headers.get('location')).toBe('/dashboard');
  const line = response.headers.getSetCookie().find((cookie) => cookie.startsWith(`${ownerCookie}=`));
  expect(line, 'the login sets the session cookie').toBeTruthy();
  return { browser, sessionCookie: line!.split(';')[0]!.slice(ownerCookie.length + 1) };
}

/** The CSRF token on one of the browser's pages (any page with a form carries it). */
export async function csrfToken(browser: CookieBrowser, path = '/dashboard'): Promise<string> {
  const response = await browser.get(path);
  const page = await response.text();
  const token = field(page, '_csrf');
  expect(token, `a CSRF field on ${path} (${response.status})`).toBeTruthy();
  return token!;
}

/** Submits a form of the page at `page` to `action`, as the browser would: the fields and the CSRF token that page carries. */
export async function submitForm(browser: CookieBrowser, page: string, action: string, fields: Record<string, string> = {}): Promise<Response> {
  return browser.post(action, { _csrf: await csrfToken(browser, page), ...fields });
}

let counter = 0;

/** An owner with apps, straight in the database (for servers that are not a TestServer). */
export async function seedOwner(
  db: Knex,
  hasher: PasswordHasher,
  appNames: string[] = ['Support'],
): Promise<{ account: Account; apps: App[]; password: string; email: string }> {
  counter += 1;
  const password = 'correct horse battery';
  const email = `seeded${counter}-${Date.now()}@example.com`;
  const account = await createAccount(db, hasher, { email, password, name: 'Owner' });
  const apps: App[] = [];
  for (const name of appNames) apps.push(await createApp(db, account.id, { displayName: name }));
  return { account, apps, password, email };
}
