import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as client from 'openid-client';
import { noticeVerifier, type Notice } from './notices.ts';

/**
 * An example partner of appgrant: the integration guide in code.
 *
 * 1. "Add to app" sends the owner to appgrant's /oauth/authorize with a fresh
 *    `state` and a PKCE challenge (S256), both kept server-side for this browser.
 * 2. /callback checks `state` and `iss`, exchanges the code with the PKCE
 *    verifier (openid-client), and keeps the tokens per app (the token
 *    response names the app in `app_id`).
 * 3. The token calls the platform API (GET /v2/apps/{appId}); an expired one
 *    is refreshed with the refresh token and the call retried once.
 * 4. appgrant POSTs signed notices (e.g. integration.removed) to the
 *    partner's removeUrl, /notices here: the signature is checked against
 *    /oauth/jwks (notices.ts) and a removed app's tokens are forgotten.
 *
 * Everything is kept in memory: a real partner stores tokens encrypted in its
 * database, per app.
 */

export interface PartnerOptions {
  /** appgrant's base URL (its issuer). */
  issuer: string;
  clientId: string;
  clientSecret: string;
  port: number;
  host?: string;
  /** Where browsers reach this site; the callback is <publicUrl>/callback. Default http://localhost:<port>. */
  publicUrl?: string;
}

export interface Installation {
  appId: string;
  appName?: string;
  scope: string;
  accessToken: string;
  refreshToken?: string;
  expiresAt?: number;
  installedAt: string;
}

export interface ReceivedNotice {
  at: string;
  accepted: boolean;
  detail: string;
}

export interface RunningPartner {
  url: string;
  installations: Map<string, Installation>;
  notices: ReceivedNotice[];
  close(): Promise<void>;
}

const escape = (value: unknown) =>
  String(value).replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title>
<style>body{font:16px system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem}
.add{display:inline-block;background:#1d4ed8;color:#fff;padding:.6rem 1rem;border-radius:.4rem;text-decoration:none}
li{margin:.5rem 0}form{display:inline}pre{background:#f3f4f6;padding:.5rem;overflow:auto}</style></head>
<body><main><h1>${escape(title)}</h1>${body}</main></body></html>`;
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function cookie(request: IncomingMessage, name: string): string | undefined {
  const pair = (request.headers.cookie ?? '').split(/;\s*/).find((part) => part.startsWith(`${name}=`));
  return pair?.slice(name.length + 1);
}

function redirect(response: ServerResponse, location: string, headers: Record<string, string> = {}): void {
  response.writeHead(303, { location, ...headers }).end();
}

function html(response: ServerResponse, status: number, body: string): void {
  response.writeHead(status, { 'content-type': 'text/html; charset=utf-8' }).end(body);
}

export async function startPartner(options: PartnerOptions): Promise<RunningPartner> {
  const issuerUrl = new URL(options.issuer);
  // Plain http is only for a local appgrant (the README's `npm start`).
  const local = issuerUrl.protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(issuerUrl.hostname);
  const config = await client.discovery(issuerUrl, options.clientId, undefined, client.ClientSecretBasic(options.clientSecret), {
    algorithm: 'oauth2',
    ...(local ? { execute: [client.allowInsecureRequests] } : {}),
  });
  const verifyNotice = noticeVerifier(options.issuer);
  const installations = new Map<string, Installation>();
  const notices: ReceivedNotice[] = [];
  /** Per browser (cookie): the state and PKCE verifier of the authorization it started. */
  const pending = new Map<string, { state: string; verifier: string }>();
  let publicUrl = options.publicUrl;
  const callbackUrl = () => `${publicUrl}/callback`;

  function keepTokens(appId: string, tokens: client.TokenEndpointResponse & client.TokenEndpointResponseHelpers, previous?: Installation): Installation {
    const installation: Installation = {
      appId,
      ...(previous?.appName ? { appName: previous.appName } : {}),
      scope: tokens.scope ?? previous?.scope ?? '',
      accessToken: tokens.access_token,
      ...(tokens.refresh_token ?? previous?.refreshToken ? { refreshToken: tokens.refresh_token ?? previous?.refreshToken } : {}),
      ...(tokens.expiresIn() !== undefined ? { expiresAt: Date.now() + tokens.expiresIn()! * 1000 } : {}),
      installedAt: previous?.installedAt ?? new Date().toISOString(),
    };
    installations.set(appId, installation);
    return installation;
  }

  async function refresh(installation: Installation): Promise<Installation> {
    if (!installation.refreshToken) throw new Error('no refresh token: add the app again');
    return keepTokens(installation.appId, await client.refreshTokenGrant(config, installation.refreshToken), installation);
  }

  /** GET /v2/apps/{appId} with the app's token; once more after a refresh when the token has expired. */
  async function readApp(installation: Installation): Promise<{ status: number; body: unknown }> {
    const call = (token: string) =>
      fetch(new URL(`/v2/apps/${encodeURIComponent(installation.appId)}`, options.issuer), { headers: { authorization: `Bearer ${token}` } });
    let response = await call(installation.accessToken);
    if (response.status === 401 && installation.refreshToken) response = await call((await refresh(installation)).accessToken);
    const body = (await response.json()) as { app?: { displayName?: string } };
    if (response.ok && body.app?.displayName) installation.appName = body.app.displayName;
    return { status: response.status, body };
  }

  /** appgrant's list of this partner's installations when it offers one; otherwise the apps this site holds tokens for. */
  async function listInstallations(): Promise<{ source: string; apps: { appId: string; name?: string }[] }> {
    try {
      const response = await fetch(new URL('/v2/partner/installations', options.issuer), {
        headers: { authorization: `Basic ${Buffer.from(`${options.clientId}:${options.clientSecret}`).toString('base64')}`, accept: 'application/json' },
      });
      if (response.ok) {
        const body = (await response.json()) as { installations?: { app: { id: string; displayName: string } }[] };
        if (Array.isArray(body.installations)) {
          return { source: 'appgrant', apps: body.installations.map((item) => ({ appId: item.app.id, name: item.app.displayName })) };
        }
      } else {
        await response.body?.cancel();
      }
    } catch {
      // appgrant unreachable: show what this site knows.
    }
    return { source: 'tokens held here', apps: [...installations.values()].map((item) => ({ appId: item.appId, ...(item.appName ? { name: item.appName } : {}) })) };
  }

  async function home(response: ServerResponse, message = ''): Promise<void> {
    const { source, apps } = await listInstallations();
    const held = [...installations.values()];
    html(
      response,
      200,
      page(
        'Example Partner',
        `${message ? `<p role="status">${escape(message)}</p>` : ''}
<p><a class="add" href="/connect">Add to app</a></p>
<h2>Installations</h2><p>From ${escape(source)}.</p>
<ul>${apps.map((app) => `<li data-app="${escape(app.appId)}">${escape(app.name ?? app.appId)}</li>`).join('') || '<li>None yet.</li>'}</ul>
<h2>Tokens held</h2>
<ul>${
          held
            .map(
              (item) => `<li data-token-app="${escape(item.appId)}">${escape(item.appName ?? item.appId)} (${escape(item.scope)})
<form method="post" action="/apps/${escape(item.appId)}/call"><button>Call the API</button></form>
<form method="post" action="/apps/${escape(item.appId)}/refresh"><button>Refresh the token</button></form></li>`,
            )
            .join('') || '<li>None.</li>'
        }</ul>
<h2>Notices received</h2>
<ul>${notices.map((notice) => `<li>${escape(notice.at)}: ${notice.accepted ? 'accepted' : 'rejected'}, ${escape(notice.detail)}</li>`).join('') || '<li>None yet.</li>'}</ul>`,
      ),
    );
  }

  async function connect(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const browser = cookie(request, 'partner_session') ?? randomBytes(16).toString('base64url');
    const state = client.randomState();
    const verifier = client.randomPKCECodeVerifier();
    pending.set(browser, { state, verifier });
    const target = client.buildAuthorizationUrl(config, {
      redirect_uri: callbackUrl(),
      state,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    redirect(response, target.href, { 'set-cookie': `partner_session=${browser}; HttpOnly; SameSite=Lax; Path=/` });
  }

  async function callback(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const started = pending.get(cookie(request, 'partner_session') ?? '');
    const current = new URL(request.url ?? '/', publicUrl);
    if (current.searchParams.get('error')) return home(response, `Not added: ${current.searchParams.get('error')}`);
    if (!started) return home(response, 'Not added: this browser did not start an authorization here');
    pending.delete(cookie(request, 'partner_session')!);
    try {
      const tokens = await client.authorizationCodeGrant(config, current, { pkceCodeVerifier: started.verifier, expectedState: started.state });
      const appId = String(tokens.app_id);
      const installation = keepTokens(appId, tokens);
      await readApp(installation);
      redirect(response, `/?added=${encodeURIComponent(appId)}`);
    } catch (error) {
      home(response, `Not added: ${(error as Error).message}`);
    }
  }

  async function onApp(request: IncomingMessage, response: ServerResponse, appId: string, action: string): Promise<void> {
    const installation = installations.get(appId);
    if (!installation) return home(response, 'No token for that app');
    try {
      if (action === 'refresh') {
        await refresh(installation);
        return home(response, `Token refreshed for ${installation.appName ?? appId}`);
      }
      const result = await readApp(installation);
      return home(response, `GET /v2/apps/${appId} → ${result.status} ${JSON.stringify(result.body)}`);
    } catch (error) {
      return home(response, `Failed: ${(error as Error).message}`);
    }
  }

  async function receiveNotice(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const body = await readBody(request);
    const header = request.headers['appgrant-signature'];
    const check = await verifyNotice(typeof header === 'string' ? header : undefined, body);
    const at = new Date().toISOString();
    if (!check.ok) {
      notices.unshift({ at, accepted: false, detail: check.reason });
      response.writeHead(401, { 'content-type': 'text/plain' }).end(check.reason);
      return;
    }
    const notice: Notice = check.notice;
    // integration.removed: the tokens for that app are dead; forget them.
    if (notice.event === 'integration.removed') installations.delete(notice.appId);
    notices.unshift({ at, accepted: true, detail: `${notice.event} for app ${notice.appId}` });
    response.writeHead(204).end();
  }

  async function route(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const { pathname } = new URL(request.url ?? '/', 'http://partner.invalid');
    const appAction = /^\/apps\/([^/]+)\/(call|refresh)$/.exec(pathname);
    if (request.method === 'GET' && pathname === '/') return home(response);
    if (request.method === 'GET' && pathname === '/connect') return connect(request, response);
    if (request.method === 'GET' && pathname === '/callback') return callback(request, response);
    if (request.method === 'POST' && appAction) return onApp(request, response, decodeURIComponent(appAction[1]!), appAction[2]!);
    if (request.method === 'POST' && pathname === '/notices') return receiveNotice(request, response);
    response.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
  }

  const server = createServer((request, response) => {
    route(request, response).catch((error: unknown) => {
      if (!response.headersSent) response.writeHead(500, { 'content-type': 'text/plain' });
      response.end(`error: ${(error as Error).message}`);
    });
  });
  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(options.port, options.host ?? '127.0.0.1', done);
  });
  const { port } = server.address() as AddressInfo;
  publicUrl ??= `http://localhost:${port}`;
  return {
    url: publicUrl,
    installations,
    notices,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}

if (import.meta.main) {
  const port = Number(process.env.PORT ?? 8080);
  const partner = await startPartner({
    issuer: process.env.APPGRANT_URL ?? 'http://localhost:3000',
    clientId: process.env.PARTNER_CLIENT_ID ?? 'ptn_demo',
    clientSecret: process.env.PARTNER_CLIENT_SECRET ?? 'agcs_DemoPartnerSecretNotForProduction00000000001OQrgX',
    port,
    ...(process.env.PARTNER_URL ? { publicUrl: process.env.PARTNER_URL } : {}),
  });
  process.stdout.write(`example partner on ${partner.url} (callback ${partner.url}/callback, notices ${partner.url}/notices)\n`);
}
