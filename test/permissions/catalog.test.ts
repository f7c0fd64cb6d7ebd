import { describe, expect, it } from 'vitest';
import {
  allPermissions,
  normalizePermissions,
  permissionCatalog,
  permissionChoice,
  permissionsOfLevel,
  permissionsOfLevels,
  UnknownPermissionError,
} from '../../src/permissions/catalog.ts';

/**
 * The permission rules on their own (docs/contract.md, "Permissions"): one
 * catalog, named explicitly or as "all", never more than what may be granted
 * where the choice is made.
 */

const names = permissionCatalog.map((permission) => permission.name);

describe('the catalog', () => {
  it('lists each permission once, each with a description and at least one level', () => {
    expect(new Set(names).size).toBe(names.length);
    for (const permission of permissionCatalog) {
      expect(permission.description.length, permission.name).toBeGreaterThan(10);
      expect(permission.levels.length, permission.name).toBeGreaterThan(0);
    }
  });

  it('keeps the SDK permissions to appUser level and the management ones away from it', () => {
    expect(permissionsOfLevel('appUser')).toEqual(expect.arrayContaining(['web:sdk', 'mobile-app-messaging:sdk', 'message:send']));
    expect(permissionsOfLevel('appUser')).not.toContain('keys:manage');
    expect(permissionsOfLevel('app')).not.toContain('web:sdk');
    expect(permissionsOfLevels(['app', 'appUser'])).toEqual(names.filter((name) => [...permissionsOfLevel('app'), ...permissionsOfLevel('appUser')].includes(name)));
  });

  it('normalizes names to the catalog order without duplicates, and throws on an unknown one', () => {
    expect(normalizePermissions(['message:send', 'app:read', 'message:send'])).toEqual(['app:read', 'message:send']);
    expect(() => normalizePermissions(['app:read', 'teleport'])).toThrow(UnknownPermissionError);
  });
});

describe('choosing the permissions of something new', () => {
  const grantable = ['app:read', 'message:send', 'keys:manage'];
  const required = permissionChoice(grantable, { required: true });
  const optional = permissionChoice(grantable, { required: false });

  it('keeps the names given, in catalog order', () => {
    expect(required.parse(['keys:manage', 'app:read'])).toEqual(['app:read', 'keys:manage']);
  });

  it(`reads "${allPermissions}" as every grantable permission, written out`, () => {
    expect(required.parse([allPermissions])).toEqual(grantable);
    expect(required.parse(['app:read', allPermissions])).toEqual(grantable);
  });

  it('refuses naming none where a choice is required, and says how to choose all', () => {
    const result = required.safeParse([]);
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.message).toBe('name the permissions to grant, or "all" for all of them');
    expect(required.safeParse(undefined).success).toBe(false);
  });

  it('leaves none as an empty list where the caller fills it in', () => {
    expect(optional.parse(undefined)).toEqual([]);
    expect(optional.parse([])).toEqual([]);
  });

  it('refuses an unknown permission and one not grantable here, naming them', () => {
    expect(required.safeParse(['teleport', 'app:read']).error?.issues[0]?.message).toBe('unknown permission: teleport');
    expect(required.safeParse(['web:sdk']).error?.issues[0]?.message).toBe('not grantable here: web:sdk');
  });
});
