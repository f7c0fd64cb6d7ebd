import { html, type Html } from './html.ts';
import { copyField, csrfField, flashNotices, formatDate, layout, type FlashView } from './layout.ts';
import { permissionChoices, type PermissionChoice } from './permission-choices.ts';
import { addToAppButton } from './add-to-app-button.ts';
import { errorSummary, errorTitle, fieldError, groupError, type FormErrors } from './form-errors.ts';

type Session = { email: string; csrfToken: string };

export interface PortalView {
  session: Session;
  partners: ReadonlyArray<{ id: string; name: string; approved: boolean; redirectUris: string[] }>;
  permissions: readonly PermissionChoice[];
  /** The registration form sent back with what was typed and checked, and what is wrong with it. */
  registerForm?: { values: Readonly<Record<string, string>>; permissions: readonly string[]; errors: FormErrors } | undefined;
}

/** The registration form's text fields: form key, input id, label, and how it is entered. */
const registerFields = [
  { key: 'name', id: 'partner-name', label: 'Name', input: 'text', required: true },
  { key: 'redirectUris', id: 'partner-redirects', label: 'Redirect URLs (one per line, the first is the default)', input: 'lines', required: true },
  { key: 'description', id: 'partner-description', label: 'Description (optional)', input: 'lines', hint: 'One or two sentences owners read on the consent page: what your integration does with their app.' },
  { key: 'developer', id: 'partner-developer', label: 'Developer (optional)', input: 'text' },
  { key: 'logoUrl', id: 'partner-logo', label: 'Logo URL (optional, https)', input: 'url' },
  { key: 'website', id: 'partner-website', label: 'Website (optional)', input: 'url' },
  { key: 'privacyPolicyUrl', id: 'partner-privacy', label: 'Privacy policy URL (optional)', input: 'url' },
  { key: 'termsUrl', id: 'partner-terms', label: 'Terms of service URL (optional)', input: 'url' },
  { key: 'removeUrl', id: 'partner-remove', label: 'Removal notice URL (optional)', input: 'url', hint: 'appgrant POSTs a signed notice here when an owner removes your integration from an app.' },
] as const;

const registerIds: Record<string, string> = { ...Object.fromEntries(registerFields.map((field) => [field.key, field.id])), permissions: 'perm-all' };
const registerLabels: Record<string, string> = {
  ...Object.fromEntries(registerFields.map((field) => [field.key, field.label.replace(/ \(.*\)$/, '')])),
  permissions: 'Permissions',
};

function registerField(field: (typeof registerFields)[number], values: Readonly<Record<string, string>>, errors: FormErrors | undefined): Html {
  const error = fieldError(errors, field.key, field.id);
  const value = values[field.key] ?? '';
  const required = 'required' in field ? html` required` : '';
  const control =
    field.input === 'lines'
      ? html`<textarea id="${field.id}" name="${field.key}" rows="${field.key === 'redirectUris' ? 3 : 2}"${required}${error.attributes}>${value}</textarea>`
      : html`<input id="${field.id}" name="${field.key}" type="${field.input}" value="${value}"${required}${error.attributes}>`;
  return html`<label for="${field.id}">${field.label}</label>
${error.message}${control}
${'hint' in field ? html`<p class="hint">${field.hint}</p>` : ''}`;
}

export function portalPage(view: PortalView): Html {
  const form = view.registerForm;
  const permissions = groupError(form?.errors, 'permissions', 'perm-all');
  return layout({
    title: errorTitle(form?.errors, 'Integrations you build'),
    session: view.session,
    wide: true,
    body: html`<h1>Integrations you build</h1>
${errorSummary(form?.errors, registerIds, registerLabels)}
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
<form method="post" action="/partners" novalidate>
${csrfField(view.session.csrfToken)}
${registerFields.map((field) => registerField(field, form?.values ?? {}, form?.errors))}
<fieldset${permissions.describedBy}>
<legend>Permissions your integration asks for</legend>
${permissions.message}${permissionChoices(view.permissions, form?.permissions ?? [], permissions.invalid)}
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
  flashes?: readonly FlashView[] | undefined;
  /** The redirect-URL form sent back with what was typed and what is wrong with it. */
  redirectForm?: { value: string; errors: FormErrors } | undefined;
}

export function partnerPage(view: PartnerView): Html {
  const { partner, session } = view;
  const graceActive = partner.previousSecretValidUntil && new Date(partner.previousSecretValidUntil).getTime() > Date.now();
  const redirects = fieldError(view.redirectForm?.errors, 'redirectUris', 'redirect-uris');
  return layout({
    title: errorTitle(view.redirectForm?.errors, partner.name),
    session,
    wide: true,
    body: html`<p><a href="/partners">← Integrations you build</a></p>
<h1>${partner.name}</h1>
${flashNotices(view.flashes)}
${errorSummary(view.redirectForm?.errors, { redirectUris: 'redirect-uris' }, { redirectUris: 'Redirect URLs' })}
<p><a href="/partners/${partner.id}/activity">Activity of this integration</a> · <a href="/partners/${partner.id}/notices">Notices and delivery log</a> · <a href="/partners/${partner.id}/installations">Installations</a> · <a href="/partners/${partner.id}/edit">Edit or delete</a></p>
<p>${partner.approved ? html`<span class="badge">Approved</span>` : html`<span class="badge pending">Pending approval</span> usable on your own apps only`}</p>
${partner.suspendedAt ? html`<p class="error" role="alert">Suspended by the platform since ${formatDate(partner.suspendedAt)}: every token of every installation is refused until the operator resumes it. Owners' approvals are kept.</p>` : ''}
<section aria-labelledby="credentials">
<h2 id="credentials">Credentials</h2>
${copyField('client-id', 'Client id', partner.id)}
${graceActive ? html`<p class="muted">The previous secret keeps working until ${formatDate(partner.previousSecretValidUntil)}.</p>` : ''}
<p><a class="button" href="/partners/${partner.id}/rotate-secret">Rotate secret</a></p>
</section>
<section aria-labelledby="button">
<h2 id="button">"Add to app" button</h2>
${copyField('snippet', 'HTML for your site', addToAppButton(view.authorizeUrl).value, { multiline: true })}
</section>
<section aria-labelledby="redirects">
<h2 id="redirects">Redirect URLs</h2>
<form method="post" action="/partners/${partner.id}/redirect-uris" novalidate>
${csrfField(session.csrfToken)}
<label for="redirect-uris">One per line; compared exactly; the first is used when a request names none</label>
${redirects.message}<textarea id="redirect-uris" name="redirectUris" rows="4" required${redirects.attributes}>${view.redirectForm ? view.redirectForm.value : partner.redirectUris.join('\n')}</textarea>
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
