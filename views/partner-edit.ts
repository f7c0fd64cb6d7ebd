import { html, type Html } from './html.ts';
import { csrfField, layout } from './layout.ts';
import { permissionChoices, type PermissionChoice } from './permission-choices.ts';

type Session = { email: string; csrfToken: string };

/** The text fields of the edit form: name, label, input type. */
const textFields = [
  ['name', 'Name', 'text'],
  ['description', 'Description (optional)', 'text'],
  ['developer', 'Developer (optional)', 'text'],
  ['logoUrl', 'Logo URL (optional, https)', 'url'],
  ['website', 'Website (optional)', 'url'],
  ['privacyPolicyUrl', 'Privacy policy URL (optional)', 'url'],
  ['termsUrl', 'Terms URL (optional)', 'url'],
  ['removeUrl', 'Notice URL (optional): appgrant POSTs signed notices here', 'url'],
  ['accessNote', 'Note to owners when you ask for more permissions (optional)', 'text'],
] as const;

export interface PartnerEditView {
  session: Session;
  partner: { id: string; name: string; approved: boolean };
  /** The values the form shows: what is in force, or what was typed before a refusal. */
  values: Readonly<Record<string, string>>;
  permissions: readonly string[];
  catalog: readonly PermissionChoice[];
  /** Fields waiting for the operator's review, with the values waiting. */
  pending: ReadonlyArray<{ field: string; value: string }>;
  /** What is wrong, field by field, after a refusal. */
  errors?: Readonly<Record<string, string>> | undefined;
}

/** /partners/{id}/edit: every field of the integration, and where a change goes. */
export function partnerEditPage(view: PartnerEditView): Html {
  const { partner, session, values, errors = {} } = view;
  const problem = (field: string) => (errors[field] ? html`<p class="error" id="${field}-error">${errors[field]}</p>` : '');
  return layout({
    title: `Edit ${partner.name}`,
    session,
    wide: true,
    body: html`<p><a href="/partners/${partner.id}">← ${partner.name}</a></p>
<h1>Edit ${partner.name}</h1>
${Object.keys(errors).length ? html`<p class="error" role="alert">Nothing was saved: ${Object.keys(errors).length} field(s) need attention.</p>` : ''}
${
  partner.approved
    ? html`<p class="muted">The integration is approved: changes to what owners see on the consent page (name, description, developer, logo, website, privacy policy, terms, permissions) wait for the platform operator's review; until then owners see, and new approvals grant, what was approved. Redirect URLs and the notice URL change at once.</p>`
    : ''
}
${
  view.pending.length
    ? html`<section aria-labelledby="pending"><h2 id="pending">Waiting for review</h2><ul>${view.pending.map((change) => html`<li>${change.field}: <code>${change.value}</code></li>`)}</ul></section>`
    : ''
}
<form method="post" action="/partners/${partner.id}/edit">
${csrfField(session.csrfToken)}
${textFields.map(
  ([field, label, type]) => html`<label for="edit-${field}">${label}</label>
<input id="edit-${field}" name="${field}" type="${type}" value="${values[field] ?? ''}">
${problem(field)}`,
)}
<label for="edit-redirectUris">Redirect URLs (one per line, the first is the default)</label>
<textarea id="edit-redirectUris" name="redirectUris" rows="3" required>${values.redirectUris ?? ''}</textarea>
${problem('redirectUris')}
<fieldset>
<legend>Permissions your integration asks for</legend>
${permissionChoices(view.catalog, view.permissions)}
${problem('permissions')}
</fieldset>
<label for="edit-optionalPermissions">Optional permissions (names, separated by spaces): owners may leave these out when they allow the integration</label>
<input id="edit-optionalPermissions" name="optionalPermissions" type="text" value="${values.optionalPermissions ?? ''}">
${problem('optionalPermissions')}
<button type="submit" class="primary">Save changes</button>
</form>
<section aria-labelledby="delete">
<h2 id="delete">Delete the integration</h2>
<p><a class="button danger" href="/partners/${partner.id}/delete">Delete ${partner.name}</a></p>
</section>`,
  });
}
