import { html, type Html } from './html.ts';
import { copyField, csrfField, formatDate, layout } from './layout.ts';
import { permissionChoices, type PermissionChoice } from './permission-choices.ts';
import { addToAppButton } from './add-to-app-button.ts';

type Session = { email: string; csrfToken: string };

export interface PortalView {
  session: Session;
  partners: ReadonlyArray<{ id: string; name: string; approved: boolean; redirectUris: string[] }>;
  permissions: readonly PermissionChoice[];
  error?: string | undefined;
  form?: Record<string, string> | undefined;
}

export function portalPage(view: PortalView): Html {
  const form = view.form ?? {};
  return layout({
    title: 'Integrations you build',
    session: view.session,
    wide: true,
    body: html`<h1>Integrations you build</h1>
${
  view.partners.length
    ? html`<table class="stack">
<thead><tr><th scope="col">Integration</th><th scope="col">Client id</th><th scope="col">Status</th></tr></thead>
<tbody>${view.partners.map(
        (partner) => html`<tr><td><a href="/partners/${partner.id}">${partner.name}</a></td><td data-label="Client id"><code>${partner.id}</code></td><td data-label="Status">${
          partner.approved ? html`<span class="badge">Approved</span>` : html`<span class="badge pending">Pending approval</span>`
        }</td></tr>`,
      )}</tbody>
</table>`
    : html`<p class="empty">You have not registered an integration yet.</p>`
}
<section>
<h2>Register an integration</h2>
<p class="muted">A new integration can be added to your own apps right away, and to other owners' apps once an operator approves it.</p>
${view.error ? html`<p class="error" role="alert" id="register-error">${view.error}</p>` : ''}
<form method="post" action="/partners">
${csrfField(view.session.csrfToken)}
<label for="partner-name">Name</label>
<input id="partner-name" name="name" type="text" required maxlength="200" value="${form.name ?? ''}">
<label for="partner-redirects">Redirect URLs (one per line, the first is the default)</label>
<textarea id="partner-redirects" name="redirectUris" rows="3" required>${form.redirectUris ?? ''}</textarea>
<label for="partner-description">Description (optional)</label>
<textarea id="partner-description" name="description" rows="2" maxlength="300">${form.description ?? ''}</textarea>
<p class="hint">One or two sentences owners read on the consent page: what your integration does with their app.</p>
<label for="partner-developer">Developer (optional)</label>
<input id="partner-developer" name="developer" type="text" maxlength="200" value="${form.developer ?? ''}">
<label for="partner-logo">Logo URL (optional, https)</label>
<input id="partner-logo" name="logoUrl" type="url" value="${form.logoUrl ?? ''}">
<label for="partner-website">Website (optional)</label>
<input id="partner-website" name="website" type="url" value="${form.website ?? ''}">
<label for="partner-privacy">Privacy policy URL (optional)</label>
<input id="partner-privacy" name="privacyPolicyUrl" type="url" value="${form.privacyPolicyUrl ?? ''}">
<label for="partner-terms">Terms of service URL (optional)</label>
<input id="partner-terms" name="termsUrl" type="url" value="${form.termsUrl ?? ''}">
<label for="partner-remove">Removal notice URL (optional)</label>
<input id="partner-remove" name="removeUrl" type="url" value="${form.removeUrl ?? ''}">
<p class="hint">appgrant POSTs a signed notice here when an owner removes your integration from an app.</p>
<fieldset>
<legend>Permissions your integration asks for</legend>
${permissionChoices(view.permissions)}
</fieldset>
<button type="submit" class="primary">Register integration</button>
</form>
</section>`,
  });
}

export interface PartnerView {
  session: Session;
  partner: {
    id: string;
    name: string;
    approved: boolean;
    redirectUris: string[];
    permissions: string[];
    removeUrl: string | null;
    previousSecretValidUntil: Date | null;
    /** When the platform operator suspended the integration, while it is suspended. */
    suspendedAt: Date | null;
  };
  /** Where the partner's "Add to app" button sends owners. */
  authorizeUrl: string;
  newSecret?: string | undefined;
  notice?: string | undefined;
  error?: string | undefined;
}

export function partnerPage(view: PartnerView): Html {
  const { partner, session } = view;
  const graceActive = partner.previousSecretValidUntil && new Date(partner.previousSecretValidUntil).getTime() > Date.now();
  return layout({
    title: partner.name,
    session,
    wide: true,
    body: html`<p><a href="/partners">← Integrations you build</a></p>
<h1>${partner.name}</h1>
<p><a href="/partners/${partner.id}/activity">Activity of this integration</a> · <a href="/partners/${partner.id}/notices">Notices and delivery log</a></p>
<p>${partner.approved ? html`<span class="badge">Approved</span>` : html`<span class="badge pending">Pending approval</span> usable on your own apps only`}</p>
${partner.suspendedAt ? html`<p class="error" role="alert">Suspended by the platform since ${formatDate(partner.suspendedAt)}: every token of every installation is refused until the operator resumes it. Owners' approvals are kept.</p>` : ''}
${view.notice ? html`<p class="notice" role="status">${view.notice}</p>` : ''}
${view.error ? html`<p class="error" role="alert">${view.error}</p>` : ''}
<section aria-labelledby="credentials">
<h2 id="credentials">Credentials</h2>
${copyField('client-id', 'Client id', partner.id)}
${
  view.newSecret
    ? html`<div class="notice" role="status"><p><strong>Copy the client secret now:</strong> it will not be shown again.</p>${copyField('client-secret', 'Client secret', view.newSecret)}</div>`
    : ''
}
${graceActive ? html`<p class="muted">The previous secret keeps working until ${formatDate(partner.previousSecretValidUntil)}.</p>` : ''}
<form method="post" action="/partners/${partner.id}/rotate-secret">
${csrfField(session.csrfToken)}
<button type="submit">Rotate secret</button>
</form>
</section>
<section aria-labelledby="button">
<h2 id="button">"Add to app" button</h2>
${copyField('snippet', 'HTML for your site', addToAppButton(view.authorizeUrl).value, true)}
</section>
<section aria-labelledby="redirects">
<h2 id="redirects">Redirect URLs</h2>
<form method="post" action="/partners/${partner.id}/redirect-uris">
${csrfField(session.csrfToken)}
<label for="redirect-uris">One per line; compared exactly; the first is used when a request names none</label>
<textarea id="redirect-uris" name="redirectUris" rows="4" required>${partner.redirectUris.join('\n')}</textarea>
<button type="submit" class="primary">Save redirect URLs</button>
</form>
</section>
<section aria-labelledby="details">
<h2 id="details">Details</h2>
<p>Permissions: ${partner.permissions.map((name) => html`<code>${name}</code> `)}</p>
<p>Removal notices: ${partner.removeUrl ? html`<code>${partner.removeUrl}</code>` : 'none'}</p>
</section>`,
  });
}
