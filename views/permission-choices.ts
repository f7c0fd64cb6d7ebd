import { html, type Html } from './html.ts';

export interface PermissionChoice {
  name: string;
  description: string;
}

/**
 * The permission checkboxes of a form (a new API key, a new integration):
 * "All permissions" as a choice of its own, then one per permission, with
 * what it allows. Nothing is checked: the person names what to grant.
 */
export function permissionChoices(permissions: readonly PermissionChoice[]): Html {
  return html`<p class="hint">Choose at least one. Grant only what is needed.</p>
<div class="choice"><input type="checkbox" id="perm-all" name="permissions" value="all"><label for="perm-all"><strong>All permissions</strong> every permission listed below</label></div>
<div class="permission-options">${permissions.map(
    (permission) => html`<div class="choice"><input type="checkbox" id="perm-${permission.name}" name="permissions" value="${permission.name}"><label for="perm-${permission.name}"><code>${permission.name}</code> ${permission.description}</label></div>`,
  )}</div>`;
}
