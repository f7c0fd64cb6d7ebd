import { html, type Html } from './html.ts';
import { csrfField, flashNotices, formatDate, layout, type FlashView } from './layout.ts';
import { errorSummary, errorTitle, fieldError, groupError, type FormErrors } from './form-errors.ts';
import { permissionChoices, type PermissionChoice } from './permission-choices.ts';
import { moreAccessNotices, moreAccessRequest, type MoreAccessRequest } from './more-access.ts';

type Session = { email: string; csrfToken: string };

export interface DashboardView {
  session: Session;
  apps: ReadonlyArray<{ id: string; name: string; integrations: number; keys: number }>;
  /** Integrations asking for more access, on which app. */
  moreAccess: ReadonlyArray<{ appId: string; appName: string; partnerName: string }>;
  /** The new-app form sent back with what was typed and what is wrong with it. */
  appForm?: { name: string; errors: FormErrors } | undefined;
}

export function dashboardPage(view: DashboardView): Html {
  const errors = view.appForm?.errors;
  const name = fieldError(errors, 'displayName', 'app-name');
  return layout({
    title: errorTitle(errors, 'Your apps'),
    session: view.session,
    wide: true,
    body: html`<h1>Your apps</h1>
${moreAccessNotices(view.moreAccess)}
${errorSummary(errors, { displayName: 'app-name' }, { displayName: 'App name' })}
${
  view.apps.length
    ? html`<table class="stack">
<thead><tr><th scope="col">App</th><th scope="col">Connected integrations</th><th scope="col">API keys</th></tr></thead>
<tbody>${view.apps.map((app) => html`<tr><td><a href="/dashboard/apps/${app.id}">${app.name}</a> <code class="scope">${app.id}</code></td><td data-label="Connected integrations">${app.integrations}</td><td data-label="API keys">${app.keys}</td></tr>`)}</tbody>
</table>`
    : html`<p class="empty">You have no apps yet. Create one below.</p>`
}
<section>
<h2>Create an app</h2>
<form method="post" action="/dashboard/apps" novalidate>
${csrfField(view.session.csrfToken)}
<label for="app-name">App name</label>
${name.message}<input id="app-name" name="name" type="text" required maxlength="100" value="${view.appForm?.name ?? ''}"${name.attributes}>
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
  /** What the partner asks for beyond what was allowed, if anything. */
  moreAccess?: MoreAccessRequest | undefined;
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
  flashes?: readonly FlashView[] | undefined;
  /** The key form sent back with what was typed and what is wrong with it. */
  keyForm?: { values: Readonly<Record<string, string>>; permissions: readonly string[]; errors: FormErrors } | undefined;
}

const keyFieldIds = { displayName: 'key-name', permissions: 'perm-all', expiresAt: 'key-expires', allowedIps: 'key-ips' };
const keyFieldLabels = { displayName: 'Name', permissions: 'Permissions', expiresAt: 'Expires', allowedIps: 'Allowed IP ranges' };

function integrationRows(view: AppView): Html {
  return html`<table class="stack">
<thead><tr><th scope="col">Integration</th><th scope="col">Permissions</th><th scope="col">Approved</th><th scope="col">Last used</th><th scope="col"><span class="visually-hidden">Action</span></th></tr></thead>
<tbody>${view.integrations.map(
    (row) => html`<tr>
<td>${row.logoUrl?.startsWith('https://') ? html`<img src="${row.logoUrl}" alt="" width="20" height="20"> ` : ''}${row.partnerName}${
      row.suspended ? html`<br><span class="badge pending">Suspended by the platform</span> <span class="muted">its access is paused; your approval stays and it resumes without you doing anything</span>` : ''
    }</td>
<td data-label="Permissions">${row.permissions.map((name) => html`<code>${name}</code> `)}</td>
<td data-label="Approved">${formatDate(row.approvedAt)}${row.updatedAt ? html`<br><span class="muted">changed ${formatDate(row.updatedAt)}</span>` : ''}</td>
<td data-label="Last used">${formatDate(row.lastUsedAt)}</td>
<td><a class="button" href="/dashboard/apps/${view.app.id}/integrations/${row.authorizationId}/access">Change access<span class="visually-hidden"> of ${row.partnerName}</span></a> <a class="button danger" href="/dashboard/apps/${view.app.id}/integrations/${row.authorizationId}/remove">Remove<span class="visually-hidden"> ${row.partnerName}</span></a></td>
</tr>`,
  )}</tbody>
</table>`;
}

function keyRows(view: AppView): Html {
  return html`<table class="stack">
<thead><tr><th scope="col">Name</th><th scope="col">Key id</th><th scope="col">Permissions</th><th scope="col">Expires</th><th scope="col">Allowed IPs</th><th scope="col">Last used</th><th scope="col"><span class="visually-hidden">Action</span></th></tr></thead>
<tbody>${view.keys.map(
    (key) => html`<tr>
<td>${key.name}</td>
<td data-label="Key id"><code>${key.id}</code></td>
<td data-label="Permissions">${key.permissions.length ? key.permissions.map((name) => html`<code>${name}</code> `) : 'none'}</td>
<td data-label="Expires">${key.expiresAt ? formatDate(key.expiresAt) : 'never'}</td>
<td data-label="Allowed IPs">${key.allowedIps.length ? key.allowedIps.join(', ') : 'any'}</td>
<td data-label="Last used">${formatDate(key.lastUsedAt)}</td>
<td><a class="button danger" href="/dashboard/apps/${view.app.id}/keys/${key.id}/revoke">Revoke<span class="visually-hidden"> ${key.name}</span></a></td>
</tr>`,
  )}</tbody>
</table>`;
}

function keyForm(view: AppView): Html {
  const form = view.keyForm;
  const values = form?.values ?? {};
  const [name, expires, ips] = (['displayName', 'expiresAt', 'allowedIps'] as const).map((key) => fieldError(form?.errors, key, keyFieldIds[key]));
  const permissions = groupError(form?.errors, 'permissions', 'perm-all');
  return html`<h3>Create a key</h3>
<form method="post" action="/dashboard/apps/${view.app.id}/keys" novalidate>
${csrfField(view.session.csrfToken)}
<label for="key-name">Name</label>
${name!.message}<input id="key-name" name="name" type="text" required maxlength="100" value="${values.name ?? ''}"${name!.attributes}>
<fieldset${permissions.describedBy}>
<legend>Permissions</legend>
${permissions.message}${permissionChoices(view.permissions, form?.permissions ?? [], permissions.invalid)}
</fieldset>
<label for="key-expires">Expires (optional; the date and time are read as UTC)</label>
${expires!.message}<input id="key-expires" name="expiresAt" type="datetime-local" value="${values.expiresAt ?? ''}"${expires!.attributes}>
<label for="key-ips">Allowed IP ranges (optional, one per line, IPv4 or IPv6 CIDR)</label>
${ips!.message}<textarea id="key-ips" name="allowedIps" rows="3"${ips!.attributes}>${values.allowedIps ?? ''}</textarea>
<button type="submit" class="primary">Create key</button>
</form>`;
}

export function appPage(view: AppView): Html {
  const { app, session } = view;
  return layout({
    title: errorTitle(view.keyForm?.errors, app.name),
    session,
    wide: true,
    body: html`<p><a href="/dashboard">← All apps</a></p>
<h1>${app.name}</h1>
${flashNotices(view.flashes)}
${errorSummary(view.keyForm?.errors, keyFieldIds, keyFieldLabels)}
<p><a href="/dashboard/apps/${app.id}/activity">Activity of this app</a></p>
<p class="muted">App id <code>${app.id}</code></p>
<section aria-labelledby="integrations">
<h2 id="integrations">Connected integrations</h2>
${view.integrations.flatMap((row) => (row.moreAccess ? [moreAccessRequest(view.app.id, view.session.csrfToken, row.moreAccess)] : []))}
${view.integrations.length ? integrationRows(view) : html`<p class="empty">No integration is connected to this app.</p>`}
</section>
<section aria-labelledby="keys">
<h2 id="keys">API keys</h2>
${view.keys.length ? keyRows(view) : html`<p class="empty">This app has no API keys.</p>`}
${keyForm(view)}
</section>`,
  });
}
