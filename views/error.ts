import { html, type Html } from './html.ts';
import { csrfField, layout } from './layout.ts';

export interface ErrorView {
  title: string;
  message: string;
  /** The OAuth error code, shown small for whoever debugs the integration. */
  code?: string | undefined;
  /** On a dashboard or portal page: the owner, so the page keeps its navigation. */
  session?: { email: string; csrfToken: string } | undefined;
  /** In the "Add to app" flow, where the partner is known: a way back to it. */
  returnTo?: { partnerName: string; action: string; csrfToken: string } | undefined;
}

export function errorPage(view: ErrorView): Html {
  return layout({
    title: view.title,
    session: view.session,
    body: html`<h1>${view.title}</h1>
<p role="alert">${view.message}</p>
${
  view.returnTo
    ? html`<form method="post" action="${view.returnTo.action}">${csrfField(view.returnTo.csrfToken)}<button type="submit" class="primary">Return to ${view.returnTo.partnerName}</button></form>`
    : ''
}
${view.code ? html`<p class="muted">Error code: <code>${view.code}</code></p>` : ''}`,
  });
}
