import { html, type Html } from './html.ts';

/**
 * The "Add to app" button a partner pastes on its site: a plain link that
 * starts the flow for its client, styled inline so it needs no stylesheet.
 */
export function addToAppButton(authorizeUrl: string): Html {
  return html`<a href="${authorizeUrl}" style="display:inline-block;padding:10px 16px;border-radius:6px;background:#0b5cad;color:#fff;font:600 15px/1 system-ui,sans-serif;text-decoration:none">Add to app</a>`;
}
