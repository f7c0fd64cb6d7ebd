import { html, type Html } from './html.ts';
import { csrfField, layout } from './layout.ts';

export interface ConfirmView {
  session: { email: string; csrfToken: string };
  /** What is about to happen, as a question: "Remove HelpDesk Pro from Acme Support?" */
  question: string;
  /** What it means, in sentences: "HelpDesk Pro will lose access to Acme Support now." */
  consequences: readonly string[];
  /** The form that does it, and its button's words. */
  action: string;
  confirmLabel: string;
  cancelHref: string;
}

/**
 * The step before an action that cannot be undone: a page of its own, so it
 * works without scripts, naming what will happen to what. Cancel is a link
 * back; only the button changes anything.
 */
export function confirmPage(view: ConfirmView): Html {
  return layout({
    title: view.question,
    session: view.session,
    body: html`<h1>${view.question}</h1>
${view.consequences.map((sentence) => html`<p>${sentence}</p>`)}
<form method="post" action="${view.action}" class="actions">
${csrfField(view.session.csrfToken)}
<a class="button" href="${view.cancelHref}">Cancel</a>
<button type="submit" class="danger">${view.confirmLabel}</button>
</form>`,
  });
}
