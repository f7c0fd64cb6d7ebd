import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import SunshineConversationsClient from 'sunshine-conversations-client';
import { accountKey, appKey, jwt, keyEncryptionEnv, oauthToken, FORBIDDEN_BODY, type IssuedKey } from '../support/credentials.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

/**
 * The public `sunshine-conversations-client` npm package, unchanged, as a
 * partner's server would use it against appgrant's /v2 API: apps and app
 * keys with Basic and Bearer authentication, and the errors it surfaces.
 */

let server: TestServer;
let owner: Awaited<ReturnType<TestServer['createOwner']>>;
let key: IssuedKey;

beforeAll(async () => {
  server = await startTestServer(keyEncryptionEnv);
  owner = await server.createOwner({ appNames: ['Existing'] });
  key = await accountKey(server.db, owner.account.id);
});

afterAll(async () => {
  await server?.close();
});

function client(auth: { basic?: IssuedKey; bearer?: string }) {
  const apiClient = new SunshineConversationsClient.ApiClient();
  apiClient.basePath = server.url.replace(/\/$/, '');
  if (auth.basic) {
    apiClient.authentications.basicAuth.username = auth.basic.id;
    apiClient.authentications.basicAuth.password = auth.basic.secret;
  }
  if (auth.bearer) apiClient.authentications.bearerAuth.accessToken = auth.bearer;
  return { apps: new SunshineConversationsClient.AppsApi(apiClient), keys: new SunshineConversationsClient.AppKeysApi(apiClient) };
}

/** What the client rejects with for a non-2xx answer. */
interface ClientError {
  status: number;
  body: unknown;
  response: { text: string };
}

async function rejection(promise: Promise<unknown>): Promise<ClientError> {
  try {
    await promise;
  } catch (error) {
    return error as ClientError;
  }
  throw new Error('expected the client to reject');
}

describe('sunshine-conversations-client with Basic account credentials', () => {
  it('creates, lists, reads, updates and deletes an app', async () => {
    const { apps } = client({ basic: key });
    const { app } = await apps.createApp({ displayName: 'From the SDK', settings: { useAnimalNames: true }, metadata: { source: 'sdk' } });
    expect(app.id).toMatch(/^[0-9a-f]{24}$/);
    expect(app.displayName).toBe('From the SDK');
    expect(app.settings).toMatchObject({ useAnimalNames: true });
    expect(app.metadata).toEqual({ source: 'sdk' });

    const listed = await apps.listApps();
    expect(listed.apps.map((candidate) => candidate.id)).toEqual(expect.arrayContaining([app.id, owner.apps[0]!.id]));
    expect(listed.meta?.hasMore).toBe(false);

    expect((await apps.getApp(app.id)).app).toMatchObject({ id: app.id, displayName: 'From the SDK' });
    const updated = await apps.updateApp(app.id, { displayName: 'Renamed by SDK', settings: { echoPostback: true } });
    expect(updated.app.displayName).toBe('Renamed by SDK');
    expect(updated.app.settings).toMatchObject({ useAnimalNames: true, echoPostback: true });

    // The client turns a 200 {} into the string "{}" and never throws on it.
    expect(await apps.deleteApp(app.id)).toBe('{}');
    const gone = await rejection(apps.getApp(app.id));
    expect(gone.status).toBe(404);
    expect(gone.body).toEqual({ errors: [{ code: 'app_not_found', title: 'App not found' }] });
  });

  it('pages through apps with page[after], which the client sends percent-encoded', async () => {
    const three = await server.createOwner({ appNames: ['P1', 'P2', 'P3'] });
    const { apps } = client({ basic: await accountKey(server.db, three.account.id) });
    const ids = three.apps.map((app) => app.id).sort();
    const page = await apps.listApps({ page: { after: ids[0]! } });
    expect(page.apps.map((app) => app.id)).toEqual([ids[1], ids[2]]);
    expect(page.meta).toMatchObject({ hasMore: false, beforeCursor: ids[1], afterCursor: ids[2] });
  });

  it('creates, lists, reads and deletes app keys; only creation shows the secret', async () => {
    const { keys } = client({ basic: key });
    const appId = owner.apps[0]!.id;
    const { key: created } = await keys.createAppKey(appId, { displayName: 'SDK key' });
    expect(created.id).toMatch(/^app_/);
    expect(created.displayName).toBe('SDK key');
    expect(typeof created.secret).toBe('string');

    const listed = await keys.listAppKeys(appId);
    const mine = listed.keys.find((candidate) => candidate.id === created.id);
    expect(mine).toMatchObject({ id: created.id, displayName: 'SDK key' });
    expect(mine?.secret).toBeUndefined();
    const got = await keys.getAppKey(appId, created.id);
    expect(got.key.secret).toBeUndefined();

    // The new key works with the same client library.
    const asApp = client({ basic: { id: created.id, secret: created.secret! } });
    expect((await asApp.apps.getApp(appId)).app.id).toBe(appId);

    expect(await keys.deleteAppKey(appId, created.id)).toBe('{}');
    expect((await keys.listAppKeys(appId)).keys.map((candidate) => candidate.id)).not.toContain(created.id);
    const refused = await rejection(asApp.apps.getApp(appId));
    expect(refused.status).toBe(401);
    expect(refused.body).toMatchObject({ errors: [{ code: 'unauthorized' }] });
    const missing = await rejection(keys.getAppKey(appId, created.id));
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ errors: [{ code: 'not_found' }] });
  });
});

describe('sunshine-conversations-client with other credentials', () => {
  it('an account-scoped JWT as bearerAuth lists apps', async () => {
    const { apps } = client({ bearer: await jwt(key, { scope: 'account' }) });
    expect((await apps.listApps()).apps.map((app) => app.id)).toContain(owner.apps[0]!.id);
  });

  it('an app key reads its app and gets the exact 403 body for account-level operations', async () => {
    const appId = owner.apps[0]!.id;
    const { apps } = client({ basic: await appKey(server.db, owner.apps[0]!) });
    expect((await apps.getApp(appId)).app.id).toBe(appId);
    const refused = await rejection(apps.listApps());
    expect(refused.status).toBe(403);
    expect(refused.response.text).toBe(FORBIDDEN_BODY);
    expect(refused.body).toEqual(JSON.parse(FORBIDDEN_BODY));
  });

  it('an OAuth access token as bearerAuth reads the app it was granted', async () => {
    const created = await server.createPartner({ permissions: ['app:read'] });
    const appId = owner.apps[0]!.id;
    const token = await oauthToken(server.url, { id: created.partner.id, secret: created.clientSecret }, { email: owner.account.email, password: owner.password }, appId);
    const { apps } = client({ bearer: token.access_token });
    expect((await apps.getApp(appId)).app.id).toBe(appId);
    const refused = await rejection(apps.updateApp(appId, { displayName: 'Not allowed' }));
    expect(refused.status).toBe(403);
    expect(refused.response.text).toBe(FORBIDDEN_BODY);
  });

  it('no credentials: 401 with the errors shape', async () => {
    const refused = await rejection(client({}).apps.listApps());
    expect(refused.status).toBe(401);
    expect(refused.body).toEqual({ errors: [{ code: 'unauthorized', title: expect.any(String) }] });
  });
});
