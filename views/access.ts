import { html, type Html } from './html.ts';
import { csrfField, layout } from './layout.ts';

export interface AccessView {
  session: { email: string; csrfToken: string };
  app: { id: string; name: string };
  integration: { authorizationId: string; partnerName: string };
  permissions: ReadonlyArray<{ name: string; description: string }>;
  error?: string | undefined;
}

/** /dashboard/apps/{appId}/integrations/{id}/access: uncheck what the integration should no longer have. */
export function accessPage(view: AccessView): Html {
  const { app, integration } = view;
  const back = `/dashboard/apps/${app.id}`;
  return layout({
    title: `Access of ${integration.partnerName} to ${app.name}`,
    session: view.session,
    body: html`<p><a href="${back}">← ${app.name}</a></p>
<h1>What ${integration.partnerName} may do on ${app.name}</h1>
${view.error ? html`<p class="error" role="alert">${view.error}</p>` : ''}
<p class="muted">Uncheck what it should no longer have: every token it holds loses it at once, and it is told. It cannot get it back without asking you.</p>
<form method="post" action="${back}/integrations/${integration.authorizationId}/access">
${csrfField(view.session.csrfToken)}
<fieldset>
<legend>Permissions it keeps</legend>
${view.permissions.map(
  (permission) => html`<div class="choice"><input type="checkbox" id="keep-${permission.name}" name="permissions" value="${permission.name}" checked><label for="keep-${permission.name}">${permission.description} <code class="scope">${permission.name}</code></label></div>`,
)}
</fieldset>
<div class="actions"><a class="button" href="${back}">Cancel</a><button type="submit" class="primary">Save access</button></div>
</form>`,
  });
}
