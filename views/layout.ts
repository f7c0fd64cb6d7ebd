import { html, type Html } from './html.ts';

export interface PageOptions {
  title: string;
  body: Html;
  /** Pages inside the "Add to app" flow: who is signed in, and the "Not you?" form. */
  signedInAs?: SignedInAs | undefined;
  /** Dashboard pages: navigation and a logout form. */
  session?: { email: string; csrfToken: string } | undefined;
  /** Dashboard tables want the full width; the consent page's permissions, a little more than a form. */
  wide?: boolean | 'medium';
}

/** Who is signed in within the flow; "Not you?" posts to notYouAction, which ends that session and starts over. */
export interface SignedInAs {
  email: string;
  notYouAction: string;
  csrfToken: string;
}

export function layout({ title, body, signedInAs, session, wide }: PageOptions): Html {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${title} · appgrant</title>
<link rel="stylesheet" href="/assets/style.css">
<script src="/assets/copy.js" defer></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top"><span class="brand">appgrant</span>${
    session
      ? html`<nav aria-label="Main"><a href="/dashboard">Apps</a><a href="/dashboard/activity">Activity</a><a href="/partners">Integrations you build</a></nav>
<form method="post" action="/logout" class="logout"><span class="who">${session.email}</span>${csrfField(session.csrfToken)}<button type="submit" class="link">Log out</button></form>`
      : signedInAs
        ? html`<form method="post" action="${signedInAs.notYouAction}" class="logout"><span class="who">Signed in as ${signedInAs.email}</span>${csrfField(signedInAs.csrfToken)}<button type="submit" class="link">Not you?</button></form>`
        : ''
  }</header>
<main id="main" class="card${wide === 'medium' ? ' medium' : wide ? ' wide' : ''}">
${body}
</main>
</body>
</html>
`;
}

/** A link to another site, opened in a new tab that cannot reach back into this one, saying so to screen readers. */
export function newTabLink(href: string, label: string): Html {
  return html`<a href="${href}" target="_blank" rel="noopener noreferrer">${label}<span class="visually-hidden"> (opens in a new tab)</span></a>`;
}

/** The hidden field every form carries. */
export function csrfField(token: string): Html {
  return html`<input type="hidden" name="_csrf" value="${token}">`;
}

/**
 * A read-only field holding a value to copy (a secret, a snippet). The Copy
 * button is hidden until copy.js shows it: without scripts there is no
 * button that does nothing, and the field is there to select.
 */
export function copyField(id: string, label: string, value: string, options: { multiline?: boolean; autofocus?: boolean } = {}): Html {
  const focus = options.autofocus ? html` autofocus` : '';
  return html`<label for="${id}">${label}</label>
<div class="copy">${
    options.multiline
      ? html`<textarea id="${id}" readonly rows="4"${focus}>${value}</textarea>`
      : html`<input id="${id}" type="text" readonly value="${value}"${focus}>`
  }<button type="button" class="copy-button" data-copy="${id}" hidden>Copy</button></div>`;
}

/** What a page says once after a form redirected to it: what was done, and any secret that exists only now (focused, to copy). */
export interface FlashView {
  notice: string;
  secrets?: { label: string; value: string }[] | undefined;
}

export function flashNotices(flashes: readonly FlashView[] | undefined): Html {
  let focused = false;
  return html`${(flashes ?? []).map((flash, index) => {
    const secrets = flash.secrets ?? [];
    const block = html`<div class="notice" role="status"><p><strong>${flash.notice}</strong>${
      secrets.length ? ' Copy it now: it will not be shown again.' : ''
    }</p>${secrets.map((secret, position) => {
      const autofocus = !focused && /secret/i.test(secret.label);
      focused ||= autofocus;
      return copyField(`flash-${index}-${position}`, secret.label, secret.value, { autofocus });
    })}</div>`;
    return block;
  })}`;
}

export function formatDate(value: Date | string | null | undefined): string {
  if (!value) return 'never';
  return new Date(value).toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
}
