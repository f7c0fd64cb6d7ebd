import { html, type Html } from './html.ts';
import { layout } from './layout.ts';

export interface ErrorView {
  title: string;
  message: string;
  /** The OAuth error code, shown small for whoever debugs the integration. */
  code?: string | undefined;
}

export function errorPage(view: ErrorView): Html {
  return layout({
    title: view.title,
    body: html`<h1>${view.title}</h1>
<p role="alert">${view.message}</p>
${view.code ? html`<p class="muted">Error code: <code>${view.code}</code></p>` : ''}`,
  });
}
