import { html, type Html } from './html.ts';
import { csrfField, layout, newTabLink, type SignedInAs } from './layout.ts';

/** Who is asking, as the consent page and the app picker introduce it. */
export interface PartnerIdentity {
  name: string;
  logoUrl?: string | null | undefined;
  website?: string | null | undefined;
  description?: string | null | undefined;
  developer?: string | null | undefined;
  privacyPolicyUrl?: string | null | undefined;
  termsUrl?: string | null | undefined;
  /** Approved by an operator of the platform. */
  reviewed: boolean;
}

export interface ConsentPermission {
  name: string;
  description: string;
  effect: 'read' | 'change';
  sensitive: boolean;
  /** The owner may leave it out and still allow the rest. */
  optional: boolean;
}

export interface ConsentView {
  partner: PartnerIdentity;
  app: { id: string; name: string };
  permissions: readonly ConsentPermission[];
  /** The host the owner's browser is sent back to, whatever the decision. */
  returnHost: string;
  /** The partner already has access to this app: allowing replaces its permissions. */
  alreadyConnected: boolean;
  action: string;
  csrfToken: string;
  signedInAs: SignedInAs;
  /** Link back to the picker when the owner has several apps. */
  changeAppHref?: string | undefined;
}

/**
 * The partner's logo, or a neutral placeholder with its initial: a logo the
 * page's policy would refuse (anything but https) is never tried, so no
 * broken image is shown.
 */
export function partnerLogo(partner: Pick<PartnerIdentity, 'name' | 'logoUrl'>): Html {
  if (partner.logoUrl?.startsWith('https://')) return html`<img class="logo" src="${partner.logoUrl}" alt="" width="48" height="48">`;
  return html`<span class="logo placeholder" aria-hidden="true">${[...partner.name.trim()][0]?.toUpperCase() ?? '?'}</span>`;
}

export function reviewMark(reviewed: boolean): Html {
  return reviewed
    ? html`<span class="badge reviewed">Reviewed by the platform</span>`
    : html`<span class="badge pending">Not reviewed by the platform</span>`;
}

function partnerFacts(partner: PartnerIdentity, returnHost: string): Html {
  const links = [
    partner.website ? newTabLink(partner.website, 'Website') : '',
    partner.privacyPolicyUrl ? newTabLink(partner.privacyPolicyUrl, 'Privacy policy') : '',
    partner.termsUrl ? newTabLink(partner.termsUrl, 'Terms of service') : '',
  ].filter((link) => link !== '');
  return html`<ul class="facts">
${partner.developer ? html`<li>Developer: <strong>${partner.developer}</strong></li>` : ''}
${links.length ? html`<li>${links.map((link, index) => html`${index ? ' · ' : ''}${link}`)}</li>` : ''}
<li>You'll return to <strong>${returnHost}</strong></li>
</ul>`;
}

function permissionItem(permission: ConsentPermission): Html {
  return html`<li><span class="permission-description">${permission.description}</span>${
    permission.sensitive ? html` <span class="badge sensitive">Sensitive</span>` : ''
  } <code class="scope">${permission.name}</code>${
    permission.optional
      ? html` <span class="choice"><input type="checkbox" id="leave-out-${permission.name}" name="leaveOut" value="${permission.name}" form="consent-form"><label for="leave-out-${permission.name}">Optional: leave out</label></span>`
      : ''
  }</li>`;
}

function permissionGroups(partnerName: string, permissions: readonly ConsentPermission[]): Html {
  const groups = [
    { title: `${partnerName} will be able to read`, items: permissions.filter((permission) => permission.effect === 'read') },
    { title: `${partnerName} will be able to change or delete`, items: permissions.filter((permission) => permission.effect === 'change') },
  ].filter((group) => group.items.length);
  return html`<div class="permission-groups">${groups.map(
    (group) => html`<section><h2>${group.title}</h2><ul class="permissions">${group.items.map(permissionItem)}</ul></section>`,
  )}</div>`;
}

export function consentPage(view: ConsentView): Html {
  const { partner, app } = view;
  return layout({
    title: `Allow ${partner.name}`,
    signedInAs: view.signedInAs,
    wide: 'medium',
    body: html`<div class="partner">
${partnerLogo(partner)}
<div>
<h1>Allow <span class="name">${partner.name}</span> to access <span class="name">${app.name}</span>?</h1>
${reviewMark(partner.reviewed)}
</div>
</div>
${partner.description ? html`<p class="description">${partner.description}</p>` : ''}
${partnerFacts(partner, view.returnHost)}
<p class="muted">App: <strong>${app.name}</strong> <code>${app.id}</code>${view.changeAppHref ? html` · <a href="${view.changeAppHref}">choose another app</a>` : ''}</p>
${view.alreadyConnected ? html`<p class="notice">${partner.name} already has access to ${app.name}: allowing again updates its permissions to the ones below.</p>` : ''}
${permissionGroups(partner.name, view.permissions)}
<p class="muted">You can remove this access at any time from your dashboard.</p>
<form method="post" action="${view.action}" class="actions sticky" id="consent-form">
${csrfField(view.csrfToken)}
<input type="hidden" name="app" value="${app.id}">
<button type="submit" name="decision" value="deny">Deny</button>
<button type="submit" name="decision" value="allow" class="primary">Allow</button>
</form>`,
  });
}
