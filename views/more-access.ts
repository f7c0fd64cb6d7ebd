import { html, type Html } from './html.ts';
import { csrfField } from './layout.ts';

/** A partner's request for more access on one app: exactly what is new, and its note. */
export interface MoreAccessRequest {
  authorizationId: string;
  partnerName: string;
  added: ReadonlyArray<{ name: string; description: string }>;
  note: string | null;
}

/** On the app page: "<Partner> asks for more access", what is new, why, and Approve / Decline. */
export function moreAccessRequest(appId: string, csrfToken: string, request: MoreAccessRequest): Html {
  const action = `/dashboard/apps/${appId}/integrations/${request.authorizationId}/more-access`;
  return html`<div class="notice" role="status">
<p><strong>${request.partnerName} asks for more access</strong> to this app, in addition to what you allowed:</p>
<ul class="permissions">${request.added.map((permission) => html`<li>${permission.description} <code class="scope">${permission.name}</code></li>`)}</ul>
${request.note ? html`<p>Its note: <q>${request.note}</q></p>` : ''}
<form method="post" action="${action}" class="actions">
${csrfField(csrfToken)}
<button type="submit" name="decision" value="decline">Decline</button>
<button type="submit" name="decision" value="approve" class="primary">Approve</button>
</form>
</div>`;
}

/** On the apps list: which integrations ask for more access, and where to answer. */
export function moreAccessNotices(requests: ReadonlyArray<{ appId: string; appName: string; partnerName: string }>): Html {
  if (!requests.length) return html``;
  return html`<div class="notice" role="status">${requests.map(
    (request) => html`<p><strong>${request.partnerName} asks for more access</strong> to <a href="/dashboard/apps/${request.appId}">${request.appName}</a>.</p>`,
  )}</div>`;
}
