import { html, type Html } from './html.ts';

export interface PermissionChoice {
  name: string;
  description: string;
}

/**
 * The permission checkboxes of a form (a new API key, a new integration):
 * "All permissions" as a choice of its own, then one per permission, with
 * what it allows. Nothing is checked until the person names what to grant;
 * after a refusal, what they had checked stays checked.
 */
export function permissionChoices(permissions: readonly PermissionChoice[], checked: readonly string[] = [], invalid: Html = html``): Html {
  const box = (value: string) => html`<input type="checkbox" id="perm-${value}" name="permissions" value="${value}"${checked.includes(value) ? html` checked` : ''}${invalid}>`;
  return html`<p class="hint" id="perm-hint">Choose at least one. Grant only what is needed.</p>
<div class="choice">${box('all')}<label for="perm-all"><strong>All permissions</strong> every permission listed below</label></div>
<div class="permission-options">${permissions.map(
    (permission) => html`<div class="choice">${box(permission.name)}<label for="perm-${permission.name}">${permission.description} <code class="scope">${permission.name}</code></label></div>`,
  )}</div>`;
}
