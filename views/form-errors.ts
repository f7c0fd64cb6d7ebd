import { html, type Html } from './html.ts';

/**
 * A form's problems, as its page shows them: a summary at the top that
 * takes focus and links to each field, and each message again next to its
 * field, which is marked invalid and described by it.
 */
export interface FormErrors {
  /** Messages by the field they are about (the form's own key for it), in plain words. */
  fields: Readonly<Record<string, string>>;
  /** Messages about no single field. */
  general: readonly string[];
}

/** The summary: "There is a problem" and a link to each field in error. `ids` maps a field's key to its input's id. */
export function errorSummary(errors: FormErrors | undefined, ids: Readonly<Record<string, string>>, labels: Readonly<Record<string, string>>): Html {
  if (!errors) return html``;
  return html`<div class="error-summary" role="alert" tabindex="-1" autofocus aria-labelledby="error-summary-title">
<h2 id="error-summary-title">There is a problem</h2>
<ul>${errors.general.map((message) => html`<li>${message}</li>`)}${Object.entries(errors.fields).map(
    ([key, message]) => html`<li>${ids[key] ? html`<a href="#${ids[key]}">${labels[key] ?? key}: ${message}</a>` : html`${labels[key] ?? key}: ${message}`}</li>`,
  )}</ul>
</div>`;
}

/** The attributes an input in error carries, and the message shown just before it. */
export function fieldError(errors: FormErrors | undefined, key: string, id: string): { attributes: Html; message: Html } {
  const message = errors?.fields[key];
  if (!message) return { attributes: html``, message: html`` };
  return {
    attributes: html` aria-invalid="true" aria-describedby="${id}-error"`,
    message: html`<p class="field-error" id="${id}-error"><span class="visually-hidden">Error:</span> ${message}</p>`,
  };
}

/** A group of checkboxes in error: the fieldset is described by the message, each box marked invalid. */
export function groupError(errors: FormErrors | undefined, key: string, id: string): { describedBy: Html; invalid: Html; message: Html } {
  const { message } = fieldError(errors, key, id);
  if (!errors?.fields[key]) return { describedBy: html``, invalid: html``, message };
  return { describedBy: html` aria-describedby="${id}-error"`, invalid: html` aria-invalid="true"`, message };
}

/** "Error: " before a page's title while its form shows problems, so the first thing a screen reader says is that. */
export function errorTitle(errors: FormErrors | undefined, title: string): string {
  return errors ? `Error: ${title}` : title;
}
