import { html, type Html } from './html.ts';
import { csrfField, formatDate, layout } from './layout.ts';

type Session = { email: string; csrfToken: string };

export interface InstallationRow {
  id: string;
  appId: string;
  appName: string;
  permissions: string[];
  approvedAt: Date;
  lastUsedAt: Date | null;
  lastRefreshAt: Date | null;
  state: 'active' | 'suspended';
}

export interface InstallationsView {
  session: Session;
  partner: { id: string; name: string };
  installations: InstallationRow[];
  /** The cursor of the next page, when there is one. */
  nextAfter?: string | undefined;
  notice?: string | undefined;
  error?: string | undefined;
}

function installationRow(partner: InstallationsView['partner'], row: InstallationRow): Html {
  return html`<tr>
<td>${row.appName}<br><code>${row.appId}</code></td>
<td data-label="Permissions">${row.permissions.map((name) => html`<code>${name}</code> `)}</td>
<td data-label="Approved">${formatDate(row.approvedAt)}</td>
<td data-label="Last used">${formatDate(row.lastUsedAt)}</td>
<td data-label="Last refresh">${formatDate(row.lastRefreshAt)}</td>
<td data-label="State">${row.state === 'active' ? 'Active' : html`<span class="badge pending">Suspended by the platform</span>`}</td>
<td><a class="button danger" href="/partners/${partner.id}/installations/${row.id}/remove">Remove<span class="visually-hidden"> from ${row.appName}</span></a></td>
</tr>`;
}

/** /partners/{id}/installations: every app the integration is installed on, with export and removal. */
export function installationsPage(view: InstallationsView): Html {
  const { partner, session } = view;
  return layout({
    title: `Installations of ${partner.name}`,
    session,
    wide: true,
    body: html`<p><a href="/partners/${partner.id}">← ${partner.name}</a></p>
<h1>Installations</h1>
${view.notice ? html`<p class="notice" role="status">${view.notice}</p>` : ''}
${view.error ? html`<p class="error" role="alert">${view.error}</p>` : ''}
<p><a href="/partners/${partner.id}/installations.csv" download>Export all as CSV</a></p>
${
  view.installations.length
    ? html`<table class="stack">
<thead><tr><th scope="col">App</th><th scope="col">Permissions</th><th scope="col">Approved</th><th scope="col">Last used</th><th scope="col">Last refresh</th><th scope="col">State</th><th scope="col"><span class="visually-hidden">Action</span></th></tr></thead>
<tbody>${view.installations.map((row) => installationRow(partner, row))}</tbody>
</table>
${view.nextAfter ? html`<p><a href="/partners/${partner.id}/installations?after=${view.nextAfter}">Next page</a></p>` : ''}
<section aria-labelledby="remove-all">
<h2 id="remove-all">Remove from every app</h2>
<p class="muted">Every authorization ends at once; each owner's app stops being reachable by this integration, and each removal is reported to you as a notice.</p>
<form method="post" action="/partners/${partner.id}/installations/remove-all">
${csrfField(session.csrfToken)}
<label for="confirm-name">Type the integration's name to confirm</label>
<input id="confirm-name" name="confirm" type="text" required autocomplete="off">
<button type="submit" class="danger">Remove every installation</button>
</form>
</section>`
    : html`<p class="empty">The integration is not installed on any app.</p>`
}`,
  });
}
