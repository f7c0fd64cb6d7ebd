import { html, type Html } from './html.ts';
import { csrfField, layout, type SignedInAs } from './layout.ts';

export interface ConsentView {
  partner: {
    name: string;
    logoUrl?: string | null;
    website?: string | null;
    description?: string | null;
    developer?: string | null;
    privacyPolicyUrl?: string | null;
    termsUrl?: string | null;
  };
  app: { id: string; name: string };
  permissions: ReadonlyArray<{ name: string; description: string }>;
  action: string;
  csrfToken: string;
  signedInAs: SignedInAs;
  /** Link back to the picker when the owner has several apps. */
  changeAppHref?: string | undefined;
}

export function consentPage(view: ConsentView): Html {
  const { partner, app } = view;
  return layout({
    title: `Allow ${partner.name}`,
    signedInAs: view.signedInAs,
    body: html`<div class="partner">
${partner.logoUrl ? html`<img src="${partner.logoUrl}" alt="" width="48" height="48">` : ''}
<h1>Allow <span class="name">${partner.name}</span> to access <span class="name">${app.name}</span>?</h1>
</div>
${partner.description ? html`<p>${partner.description}</p>` : ''}
${partner.developer ? html`<p class="muted">Developed by ${partner.developer}</p>` : ''}
${partner.website ? html`<p class="muted">Published at <a href="${partner.website}" target="_blank" rel="noopener noreferrer">${partner.website}</a></p>` : ''}
${partner.privacyPolicyUrl || partner.termsUrl ? html`<p class="muted">${partner.privacyPolicyUrl ? html`<a href="${partner.privacyPolicyUrl}" target="_blank" rel="noopener noreferrer">Privacy policy</a> ` : ''}${partner.termsUrl ? html`<a href="${partner.termsUrl}" target="_blank" rel="noopener noreferrer">Terms of service</a>` : ''}</p>` : ''}
${view.changeAppHref ? html`<p class="muted">App: <strong>${app.name}</strong> · <a href="${view.changeAppHref}">choose another app</a></p>` : ''}
<h2>${partner.name} will be able to</h2>
<ul class="permissions">
${view.permissions.map((permission) => html`<li><span class="permission-description">${permission.description}</span> <code>${permission.name}</code></li>`)}
</ul>
<p class="muted">You can remove this access at any time from your dashboard.</p>
<form method="post" action="${view.action}" class="actions">
${csrfField(view.csrfToken)}
<input type="hidden" name="app" value="${app.id}">
<button type="submit" name="decision" value="deny">Deny</button>
<button type="submit" name="decision" value="allow" class="primary">Allow</button>
</form>`,
  });
}
