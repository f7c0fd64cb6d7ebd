import { html, type Html } from './html.ts';
import { csrfField, layout, type SignedInAs } from './layout.ts';

export interface AppPickerView {
  partnerName: string;
  apps: ReadonlyArray<{ id: string; name: string }>;
  /** GET target: the consent page for the chosen app. */
  action: string;
  abortAction: string;
  csrfToken: string;
  signedInAs: SignedInAs;
}

export function appPickerPage(view: AppPickerView): Html {
  return layout({
    title: 'Choose an app',
    signedInAs: view.signedInAs,
    body: html`<h1>Choose an app</h1>
<p class="lead">Which app should <strong>${view.partnerName}</strong> connect to?</p>
<form method="get" action="${view.action}">
<fieldset>
<legend>Your apps</legend>
${view.apps.map((app, index) => html`<div class="choice"><input type="radio" id="app-${app.id}" name="app" value="${app.id}"${index === 0 ? html` checked` : ''}><label for="app-${app.id}">${app.name}</label></div>`)}
</fieldset>
<button type="submit" class="primary">Continue</button>
</form>
<form method="post" action="${view.abortAction}">
${csrfField(view.csrfToken)}
<button type="submit" class="link">Cancel</button>
</form>`,
  });
}

export interface NoAppsView {
  abortAction: string;
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
        ? html`<p><strong>${view.partnerName}</strong> is waiting for approval and cannot be added to your apps yet.</p>`
        : html`<p><strong>${view.partnerName}</strong> connects to an app, and your account has none yet. Create an app first, then start again from ${view.partnerName}.</p>`
    }
<form method="post" action="${view.abortAction}">
${csrfField(view.csrfToken)}
<button type="submit" class="primary">Back to ${view.partnerName}</button>
</form>`,
  });
}
