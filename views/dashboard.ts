import { html, type Html } from './html.ts';
import { copyField, csrfField, formatDate, layout } from './layout.ts';
import { permissionChoices, type PermissionChoice } from './permission-choices.ts';

type Session = { email: string; csrfToken: string };

export interface DashboardView {
  session: Session;
  apps: ReadonlyArray<{ id: string; name: string; integrations: number; keys: number }>;
  error?: string | undefined;
}

export function dashboardPage(view: DashboardView): Html {
  return layout({
    title: 'Your apps',
    session: view.session,
    wide: true,
    body: html`<h1>Your apps</h1>
${view.error ? html`<p class="error" role="alert">${view.error}</p>` : ''}
${
  view.apps.length
    ? html`<table class="stack">
<thead><tr><th scope="col">App</th><th scope="col">Connected integrations</th><th scope="col">API keys</th></tr></thead>
<tbody>${view.apps.map((app) => html`<tr><td><a href="/dashboard/apps/${app.id}">${app.name}</a></td><td data-label="Connected integrations">${app.integrations}</td><td data-label="API keys">${app.keys}</td></tr>`)}</tbody>
</table>`
    : html`<p class="empty">You have no apps yet. Create one below.</p>`
}
<section>
<h2>Create an app</h2>
<form method="post" action="/dashboard/apps">
${csrfField(view.session.csrfToken)}
<label for="app-name">App name</label>
<input id="app-name" name="name" type="text" required maxlength="100">
<button type="submit" class="primary">Create app</button>
</form>
</section>`,
  });
}

export interface IntegrationRow {
  authorizationId: string;
  partnerName: string;
  logoUrl: string | null;
  permissions: string[];
  approvedAt: Date;
  /** When a later approval changed the permissions. */
  updatedAt: Date | null;
  lastUsedAt: Date | null;
  /** The platform operator suspended the integration: its tokens are refused until it is resumed. */
  suspended: boolean;
}

export interface KeyRow {
  id: string;
  name: string;
  permissions: string[];
  expiresAt: Date | null;
  allowedIps: string[];
  lastUsedAt: Date | null;
}

export interface AppView {
  session: Session;
  app: { id: string; name: string };
  integrations: IntegrationRow[];
  keys: KeyRow[];
  permissions: readonly PermissionChoice[];
  createdKey?: { id: string; secret: string } | undefined;
  notice?: string | undefined;
  error?: string | undefined;
}

export function appPage(view: AppView): Html {
  const { app, session } = view;
  return layout({
    title: app.name,
    session,
    wide: true,
    body: html`<p><a href="/dashboard">← All apps</a></p>
<h1>${app.name}</h1>
<p><a href="/dashboard/apps/${app.id}/activity">Activity of this app</a></p>
<p class="muted">App id <code>${app.id}</code></p>
${view.notice ? html`<p class="notice" role="status">${view.notice}</p>` : ''}
${view.error ? html`<p class="error" role="alert">${view.error}</p>` : ''}
<section aria-labelledby="integrations">
<h2 id="integrations">Connected integrations</h2>
${
  view.integrations.length
    ? html`<table class="stack">
<thead><tr><th scope="col">Integration</th><th scope="col">Permissions</th><th scope="col">Approved</th><th scope="col">Last used</th><th scope="col"><span class="muted">Action</span></th></tr></thead>
<tbody>${view.integrations.map(
        (row) => html`<tr>
<td>${row.logoUrl?.startsWith('https://') ? html`<img src="${row.logoUrl}" alt="" width="20" height="20"> ` : ''}${row.partnerName}${
  row.suspended ? html`<br><span class="badge pending">Suspended by the platform</span> <span class="muted">its access is paused; your approval stays and it resumes without you doing anything</span>` : ''
}</td>
<td data-label="Permissions">${row.permissions.map((name) => html`<code>${name}</code> `)}</td>
<td data-label="Approved">${formatDate(row.approvedAt)}${row.updatedAt ? html`<br><span class="muted">changed ${formatDate(row.updatedAt)}</span>` : ''}</td>
<td data-label="Last used">${formatDate(row.lastUsedAt)}</td>
<td><form method="post" action="/dashboard/apps/${app.id}/integrations/${row.authorizationId}/remove" class="inline">${csrfField(session.csrfToken)}<button type="submit" class="danger" aria-label="Remove ${row.partnerName}">Remove</button></form></td>
</tr>`,
      )}</tbody>
</table>`
    : html`<p class="empty">No integration is connected to this app.</p>`
}
</section>
<section aria-labelledby="keys">
<h2 id="keys">API keys</h2>
${
  view.createdKey
    ? html`<div class="notice" role="status"><p><strong>Key created.</strong> Copy the secret now: it will not be shown again.</p>
${copyField('new-key-id', 'Key id', view.createdKey.id)}
${copyField('new-key-secret', 'Secret', view.createdKey.secret)}</div>`
    : ''
}
${
  view.keys.length
    ? html`<table class="stack">
<thead><tr><th scope="col">Name</th><th scope="col">Key id</th><th scope="col">Permissions</th><th scope="col">Expires</th><th scope="col">Allowed IPs</th><th scope="col">Last used</th><th scope="col"><span class="muted">Action</span></th></tr></thead>
<tbody>${view.keys.map(
        (key) => html`<tr>
<td>${key.name}</td>
<td data-label="Key id"><code>${key.id}</code></td>
<td data-label="Permissions">${key.permissions.length ? key.permissions.map((name) => html`<code>${name}</code> `) : 'none'}</td>
<td data-label="Expires">${key.expiresAt ? formatDate(key.expiresAt) : 'never'}</td>
<td data-label="Allowed IPs">${key.allowedIps.length ? key.allowedIps.join(', ') : 'any'}</td>
<td data-label="Last used">${formatDate(key.lastUsedAt)}</td>
<td><form method="post" action="/dashboard/apps/${app.id}/keys/${key.id}/revoke" class="inline">${csrfField(session.csrfToken)}<button type="submit" class="danger" aria-label="Revoke ${key.name}">Revoke</button></form></td>
</tr>`,
      )}</tbody>
</table>`
    : html`<p class="empty">This app has no API keys.</p>`
}
<h3>Create a key</h3>
<form method="post" action="/dashboard/apps/${app.id}/keys">
${csrfField(session.csrfToken)}
<label for="key-name">Name</label>
<input id="key-name" name="name" type="text" required maxlength="100">
<fieldset>
<legend>Permissions</legend>
${permissionChoices(view.permissions)}
</fieldset>
<label for="key-expires">Expires (UTC, optional)</label>
<input id="key-expires" name="expiresAt" type="datetime-local">
<label for="key-ips">Allowed IP ranges (optional, one per line, IPv4 or IPv6 CIDR)</label>
<textarea id="key-ips" name="allowedIps" rows="3"></textarea>
<button type="submit" class="primary">Create key</button>
</form>
</section>`,
  });
}
