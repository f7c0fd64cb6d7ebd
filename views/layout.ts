import { html, type Html } from '../src/web/html.ts';

export interface PageOptions {
  title: string;
  body: Html;
  /** Shown right of the product name, e.g. the signed-in owner's email. */
  signedInAs?: string | undefined;
}

export function layout({ title, body, signedInAs }: PageOptions): Html {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${title} · appgrant</title>
<link rel="stylesheet" href="/assets/style.css">
</head>
<body>
<header class="top"><span class="brand">appgrant</span>${signedInAs ? html`<span class="who">${signedInAs}</span>` : ''}</header>
<main id="main" class="card">
${body}
</main>
</body>
</html>
`;
}

/** The hidden field every form carries. */
export function csrfField(token: string): Html {
  return html`<input type="hidden" name="_csrf" value="${token}">`;
}
