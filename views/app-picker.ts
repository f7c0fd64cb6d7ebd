import { html, type Html } from './html.ts';
import { csrfField, layout, newTabLink, type SignedInAs } from './layout.ts';
import { partnerLogo, reviewMark, type PartnerIdentity } from './consent.ts';

export interface AppPickerView {
  partner: PartnerIdentity;
  /** Each app with what tells it apart (its id), and whether this partner already has access to it. */
  apps: ReadonlyArray<{ id: string; name: string; connected: boolean }>;
  /** GET target: the consent page for the chosen app. */
  action: string;
  abortAction: string;
  csrfToken: string;
  signedInAs: SignedInAs;
  /** The form came back without a choice. */
  error?: string | undefined;
}

/** The owner chooses the app deliberately: nothing is preselected. */
export function appPickerPage(view: AppPickerView): Html {
  const { partner } = view;
  return layout({
    title: `${view.error ? 'Error: ' : ''}Choose an app`,
    signedInAs: view.signedInAs,
    body: html`<div class="partner">
${partnerLogo(partner)}
<div>
<h1>Choose an app</h1>
${reviewMark(partner.reviewed)}
</div>
</div>
<p class="lead">Which app should <strong>${partner.name}</strong> connect to?</p>
${view.error ? html`<p class="error" role="alert" id="app-error" tabindex="-1" autofocus>Error: ${view.error}</p>` : ''}
<form method="get" action="${view.action}">
<fieldset${view.error ? html` aria-describedby="app-error"` : ''}>
<legend>Your apps</legend>
${view.apps.map(
  (app) => html`<div class="choice"><input type="radio" id="app-${app.id}" name="app" value="${app.id}" required${
    view.error ? html` aria-invalid="true"` : ''
  }><label for="app-${app.id}">${app.name} <code class="scope">${app.id}</code>${
    app.connected ? html`<span class="hint">Already connected: allowing again updates its permissions.</span>` : ''
  }</label></div>`,
)}
</fieldset>
<button type="submit" class="primary">Continue</button>
</form>
<form method="post" action="${view.abortAction}">
${csrfField(view.csrfToken)}
<button type="submit" class="link">Cancel and return to ${partner.name}</button>
</form>`,
  });
}

export interface NoAppsView {
  abortAction: string;
  /** The flow's own page: once an app exists, it goes on from there. */
  retryHref: string;
  csrfToken: string;
  partnerName: string;
  signedInAs: SignedInAs;
  /** The owner has apps, but this integration awaits an operator's approval. */
  pendingApproval: boolean;
}

export function noAppsPage(view: NoAppsView): Html {
  return layout({
    title: 'No app to connect',
    signedInAs: view.signedInAs,
    body: html`<h1>No app to connect</h1>
${
      view.pendingApproval
        ? html`<p><strong>${view.partnerName}</strong> has not been reviewed by the platform yet and cannot be added to your apps until it is.</p>`
        : html`<p><strong>${view.partnerName}</strong> connects to an app, and your account has none yet.</p>
<ol>
<li>${newTabLink('/dashboard', 'Create an app on your dashboard')}.</li>
<li>Then <a href="${view.retryHref}">continue connecting ${view.partnerName}</a>.</li>
</ol>`
    }
<form method="post" action="${view.abortAction}">
${csrfField(view.csrfToken)}
<button type="submit"${view.pendingApproval ? html` class="primary"` : ''}>Cancel and return to ${view.partnerName}</button>
</form>`,
  });
}
