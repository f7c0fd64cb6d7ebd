import { html, type Html } from './html.ts';
import { csrfField, layout } from './layout.ts';

export interface LoginView {
  action: string;
  csrfToken: string;
  partnerName?: string | undefined;
  /** In the "Add to app" flow: where Cancel posts, and whether the partner is still unreviewed. */
  flow?: { abortAction: string; reviewed: boolean } | undefined;
  email?: string | undefined;
  error?: string | undefined;
}

export function loginPage(view: LoginView): Html {
  return layout({
    title: view.error ? 'Error: Log in' : 'Log in',
    body: html`<h1>Log in</h1>
${view.partnerName ? html`<p class="lead"><strong>${view.partnerName}</strong> wants to connect to one of your apps. Log in to continue.</p>` : ''}
${view.flow && !view.flow.reviewed ? html`<p class="notice"><strong>${view.partnerName}</strong> has not been reviewed by the platform yet: only the account that registered it can add it to an app.</p>` : ''}
${view.error ? html`<p class="error" role="alert" id="login-error">${view.error}</p>` : ''}
<form method="post" action="${view.action}" novalidate>
${csrfField(view.csrfToken)}
<label for="email">Email</label>
<input id="email" name="email" type="email" autocomplete="username" required autofocus value="${view.email ?? ''}"${view.error ? html` aria-invalid="true" aria-describedby="login-error"` : ''}>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required${view.error ? html` aria-invalid="true" aria-describedby="login-error"` : ''}>
<button type="submit" class="primary">Log in</button>
</form>
${
  view.flow
    ? html`<form method="post" action="${view.flow.abortAction}">
${csrfField(view.csrfToken)}
<button type="submit" class="link">Cancel and return to ${view.partnerName}</button>
</form>`
    : ''
}`,
  });
}
