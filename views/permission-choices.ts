import { html, type Html } from './html.ts';

export interface PermissionChoice {
  name: string;
  description: string;
}

/** The permission checkboxes of a form (a new API key, a new integration): one per permission, with what it allows. */
export function permissionChoices(permissions: readonly PermissionChoice[]): Html {
  return html`<div class="permission-options">${permissions.map(
    (permission) => html`<div class="choice"><input type="checkbox" id="perm-${permission.name}" name="permissions" value="${permission.name}"><label for="perm-${permission.name}"><code>${permission.name}</code> ${permission.description}</label></div>`,
  )}</div>`;
}
