import { randomBytes } from 'node:crypto';
import { SignJWT, type JWTPayload } from 'jose';
import { expect } from 'vitest';
import type { Knex } from 'knex';
import { createApiKey, createServiceAccount, type ApiKeyInput, type KeyOwner } from '../../src/credentials/api-keys.ts';
import { SecretBox } from '../../src/keys/secret-box.ts';
import { permissionsOfLevel } from '../../src/permissions/catalog.ts';
import { CookieBrowser } from './browser.ts';
import { authorizeThroughPages, exchangeCode, tokenBody, type OwnerCredentials } from './flow.ts';
import { basicAuth } from './basic.ts';

/** The exact 403 body of docs/contract.md, "Credentials", byte for byte. */
export const FORBIDDEN_BODY = '{"requestError":{"serviceException":{"messageId":"FORBIDDEN","text":"Forbidden"}}}';

/**
 * One server key for API key secrets, given to the server as
 * KEY_ENCRYPTION_KEYS, so a test can seal keys exactly as the server does
 * and insert them straight into its database.
 */
export const encryptionSecret = `test-${randomBytes(24).toString('base64url')}`;
export const keyEncryptionEnv = { KEY_ENCRYPTION_KEYS: `k1:${encryptionSecret}` };
export const box = new SecretBox([{ id: 'k1', secret: encryptionSecret }]);

export interface IssuedKey {
  id: string;
  secret: string;
}

export async function appKey(db: Knex, app: { id: string; account_id: string }, input: Partial<ApiKeyInput> = {}): Promise<IssuedKey> {
  return issue(db, { type: 'app', appId: app.id, accountId: app.account_id }, input);
}

export async function accountKey(db: Knex, accountId: string, input: Partial<ApiKeyInput> = {}): Promise<IssuedKey> {
  return issue(db, { type: 'account', accountId }, input);
}

export async function serviceAccountKey(db: Knex, accountId: string, input: Partial<ApiKeyInput> = {}): Promise<IssuedKey & { serviceAccountId: string }> {
  const serviceAccount = await createServiceAccount(db, accountId, 'Provisioning');
  const key = await issue(db, { type: 'service_account', serviceAccountId: serviceAccount.id, accountId }, input);
  return { ...key, serviceAccountId: serviceAccount.id };
}

async function issue(db: Knex, owner: KeyOwner, input: Partial<ApiKeyInput>): Promise<IssuedKey> {
  const { key, secret } = await createApiKey(db, box, owner, { displayName: 'Test key', permissions: ['all'], ...input }, { audit: { actor: { type: 'operator' } } });
  return { id: key.id, secret };
}

export function basic(key: IssuedKey): string {
  return basicAuth(key.id, key.secret);
}

/** An HS256 JWT signed with the key's secret, kid = key id; iat now unless the claims say otherwise. */
export async function jwt(key: IssuedKey, claims: JWTPayload, header: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT({ iat: Math.floor(Date.now() / 1000), ...claims })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT', kid: key.id, ...header })
    .sign(new TextEncoder().encode(key.secret));
}

export async function bearerJwt(key: IssuedKey, claims: JWTPayload, header: Record<string, unknown> = {}): Promise<string> {
  return `Bearer ${await jwt(key, claims, header)}`;
}

const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** header.payload.signature by hand, for algorithms and shapes jose will not produce. */
export function handmadeJwt(header: Record<string, unknown>, payload: Record<string, unknown>, signature = ''): string {
  return `${part(header)}.${part(payload)}.${signature}`;
}

export const levelPermissions = {
  app: permissionsOfLevel('app'),
  account: permissionsOfLevel('account'),
  appUser: permissionsOfLevel('appUser'),
};

/** A real OAuth access token: the owner walks the consent pages for the app, the partner exchanges the code. */
export async function oauthToken(
  base: string,
  partner: { id: string; secret: string },
  owner: OwnerCredentials,
  appId: string,
  scope?: string,
): Promise<{ access_token: string; refresh_token: string; app_id: string; scope: string }> {
  const browser = new CookieBrowser(base);
  const callback = await authorizeThroughPages(
    browser,
    { client_id: partner.id, response_type: 'code', ...(scope ? { scope } : {}) },
    owner,
    { appId },
  );
  const code = callback.searchParams.get('code');
  expect(code, callback.toString()).toBeTruthy();
  const response = await exchangeCode(base, partner, { code: code! });
  const body = await tokenBody(response);
  expect(response.status, JSON.stringify(body)).toBe(200);
  expect(body.app_id).toBe(appId);
  return body;
}

export interface CallOptions {
  auth?: string;
  body?: unknown;
  headers?: Record<string, string>;
}

/** One API request; a JSON body when one is given. */
export function call(base: string, method: string, path: string, { auth, body, headers = {} }: CallOptions = {}): Promise<Response> {
  return fetch(`${base}${path}`, {
    method,
    headers: {
      accept: 'application/json',
      ...(auth ? { authorization: auth } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...headers,
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
}

/** 403 with the contract's body, byte for byte, as JSON. */
export async function expectForbidden(response: Response, context = ''): Promise<void> {
  const text = await response.text();
  expect(response.status, `${context} ${text}`).toBe(403);
  expect(text).toBe(FORBIDDEN_BODY);
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
}

/** 401 with WWW-Authenticate and the API's JSON error shape. */
export async function expectUnauthorized(response: Response, context = ''): Promise<void> {
  const text = await response.text();
  expect(response.status, `${context} ${text}`).toBe(401);
  expect(response.headers.get('www-authenticate'), context).toMatch(/^(Basic|Bearer) /);
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  const body = JSON.parse(text) as { errors: { code: string; title: string }[] };
  expect(body.errors).toHaveLength(1);
  expect(body.errors[0]).toMatchObject({ code: 'unauthorized', title: expect.any(String) });
}

/** A JSON error in the {"errors":[{code,title}]} shape, never a page or a stack trace. */
export async function expectJsonError(response: Response, status: number, code?: string): Promise<{ code: string; title: string }[]> {
  const text = await response.text();
  expect(response.status, text).toBe(status);
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  expect(text).not.toMatch(/<html|<!doctype|\n\s+at \S/i);
  const body = JSON.parse(text) as { errors: { code: string; title: string }[] };
  expect(Array.isArray(body.errors) && body.errors.length > 0, text).toBe(true);
  for (const error of body.errors) expect(error).toEqual({ code: expect.any(String), title: expect.any(String) });
  if (code) expect(body.errors[0]!.code).toBe(code);
  return body.errors;
}

/** Every header a CORS-aware browser would read. */
export function corsHeaders(response: Response): string[] {
  return [...response.headers.keys()].filter((name) => name.toLowerCase().startsWith('access-control-'));
}
