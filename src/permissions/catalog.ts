import { z } from 'zod';

/**
 * The permission catalog: the one list of fine-grained permissions a
 * credential can hold, with the words the consent page shows an app owner.
 * Partners may only ask for permissions listed here; the API's routes name
 * which of them allow each operation.
 */
export interface Permission {
  name: string;
  description: string;
  /** The broadest level a credential holding this permission may act at. */
  levels: ReadonlyArray<Level>;
  /** What it lets a holder do to the owner's data: only look, or act on it (send, change, delete). */
  effect: 'read' | 'change';
  /** Control over the app itself, its keys or its people: the consent page flags it. */
  sensitive?: true;
}

export const permissionCatalog: readonly Permission[] = [
  { name: 'app:read', description: "Read the app's name, settings and metadata", levels: ['app', 'account'], effect: 'read' },
  { name: 'app:manage', description: "Change or delete the app's settings and metadata", levels: ['app', 'account'], effect: 'change', sensitive: true },
  { name: 'message:send', description: 'Send messages to the users of the app on any channel', levels: ['app', 'account', 'appUser'], effect: 'change' },
  { name: 'inbound-message:read', description: 'Read the messages users send to the app', levels: ['app', 'account', 'appUser'], effect: 'read' },
  { name: 'users:manage', description: 'Create, read, update and delete the users of the app and their profiles', levels: ['app', 'account'], effect: 'change', sensitive: true },
  { name: 'webhooks:manage', description: 'Create, change and delete the webhooks that receive the app’s events', levels: ['app', 'account'], effect: 'change', sensitive: true },
  { name: 'integrations:manage', description: 'Connect and remove channels and integrations of the app', levels: ['app', 'account'], effect: 'change' },
  { name: 'events:read', description: "Read the app's activity log: approvals, removals, keys and sign-ins", levels: ['app', 'account'], effect: 'read' },
  { name: 'keys:manage', description: "Create, list and revoke the app's API keys", levels: ['app', 'account'], effect: 'change', sensitive: true },
  { name: 'web:sdk', description: 'Use the client-side web messaging SDK on behalf of one user', levels: ['appUser'], effect: 'change' },
  { name: 'mobile-app-messaging:sdk', description: 'Use the mobile messaging SDK on behalf of one user', levels: ['appUser'], effect: 'change' },
];

const byName = new Map(permissionCatalog.map((permission) => [permission.name, permission]));

const permissionNames: readonly string[] = permissionCatalog.map((permission) => permission.name);

export function isKnownPermission(name: string): boolean {
  return byName.has(name);
}

export function describePermission(name: string): Permission | undefined {
  return byName.get(name);
}

/** Names in the catalog's order, without duplicates; throws on an unknown name. */
export function normalizePermissions(names: Iterable<string>): string[] {
  const wanted = new Set(names);
  for (const name of wanted) {
    if (!byName.has(name)) throw new UnknownPermissionError(name);
  }
  return permissionNames.filter((name) => wanted.has(name));
}

export class UnknownPermissionError extends Error {
  readonly permission: string;

  constructor(permission: string) {
    super(`unknown permission: ${permission}`);
    this.permission = permission;
  }
}

export type Level = 'app' | 'account' | 'appUser';

/** Every permission usable at a level: what a credential granted no explicit permissions holds. */
export function permissionsOfLevel(level: Level): string[] {
  return permissionCatalog.filter((permission) => permission.levels.includes(level)).map((permission) => permission.name);
}

/** The word that chooses every permission of a level: what a form's "All permissions" box and the CLI's `--permission all` send. */
export const allPermissions = 'all';

/** Every permission usable at any of these levels, in the catalog's order. */
export function permissionsOfLevels(levels: readonly Level[]): string[] {
  return permissionCatalog.filter((permission) => permission.levels.some((level) => levels.includes(level))).map((permission) => permission.name);
}

/**
 * The permissions a new key or integration is given, as its creator named
 * them: names from `grantable`, or the explicit choice "all" (every one of
 * them, listed out). Least privilege: when `required`, naming none is
 * refused rather than read as "all"; otherwise none stays an empty list for
 * the caller to fill in.
 */
export function permissionChoice(grantable: readonly string[], { required }: { required: boolean }) {
  return z
    .array(z.string())
    .default([])
    .refine((names) => !required || names.length > 0, `name the permissions to grant, or "${allPermissions}" for all of them`)
    .transform((names, ctx) => {
      if (names.includes(allPermissions)) return [...grantable];
      const unknown = names.filter((name) => !byName.has(name));
      if (unknown.length) {
        ctx.addIssue({ code: 'custom', message: `unknown permission: ${unknown.join(', ')}` });
        return z.NEVER;
      }
      const outside = names.filter((name) => !grantable.includes(name));
      if (outside.length) {
        ctx.addIssue({ code: 'custom', message: `not grantable here: ${outside.join(', ')}` });
        return z.NEVER;
      }
      return normalizePermissions(names);
    });
}
