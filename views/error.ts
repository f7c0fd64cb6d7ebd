import { html, type Html } from './html.ts';
import { layout } from './layout.ts';

export interface ErrorView {
  title: string;
  message: string;
  /** The OAuth error code, shown small for whoever debugs the integration. */
  code?: string | undefined;
  /** On a dashboard or portal page: the owner, so the page keeps its navigation. */
  session?: { email: string; csrfToken: string } | undefined;
}

export function errorPage(view: ErrorView): Html {
  return layout({
    title: view.title,
    session: view.session,
    body: html`<h1>${view.title}</h1>
<p role="alert">${view.message}</p>
${view.code ? html`<p class="muted">Error code: <code>${view.code}</code></p>` : ''}`,
  });
}
