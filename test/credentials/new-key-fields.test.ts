import { describe, expect, it } from 'vitest';
import { ZodError } from 'zod';
import { grantableToKey, newKeyFields, type KeyCreator } from '../../src/credentials/api-keys.ts';
import { ForbiddenProblem } from '../../src/http/problems.ts';
import { permissionsOfLevels } from '../../src/permissions/catalog.ts';

/**
 * The permissions, expiry and ranges of a new key, without a database
 * (docs/contract.md, "Permissions"): named explicitly where a person or an
 * operator creates it; never broader than the credential creating it on the
 * API, and that credential's own when none are named.
 */

const inAnHour = () => new Date(Date.now() + 3_600_000);
const creator = (overrides: Partial<KeyCreator> = {}): KeyCreator => ({
  permissions: new Set(['app:read', 'keys:manage']),
  allowedIps: [],
  ...overrides,
});
const refusal = (run: () => unknown) => {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('expected a refusal');
};

describe('what a key of a level may hold', () => {
  it('an app key: app and appUser permissions (it signs appUser JWTs); an account key: all three levels', () => {
    expect(grantableToKey('app')).toEqual(permissionsOfLevels(['app', 'appUser']));
    expect(grantableToKey('app')).toContain('web:sdk');
    expect(grantableToKey('account')).toEqual(permissionsOfLevels(['account', 'app', 'appUser']));
  });
});

describe('a key made by a person or the operator', () => {
  it('holds the permissions named, or all of its level for "all"', () => {
    expect(newKeyFields('app', { displayName: 'CI', permissions: ['message:send', 'app:read'] }).permissions).toEqual(['app:read', 'message:send']);
    expect(newKeyFields('app', { displayName: 'CI', permissions: ['all'] }).permissions).toEqual(grantableToKey('app'));
  });

  it('must name its permissions', () => {
    const error = refusal(() => newKeyFields('app', { displayName: 'CI' }));
    expect(error).toBeInstanceOf(ZodError);
    expect((error as ZodError).issues[0]).toMatchObject({ path: ['permissions'], message: expect.stringMatching(/name the permissions/) });
  });

  it('refuses an empty name, a past expiry and a range that is not one, field by field', () => {
    const error = refusal(() =>
      newKeyFields('app', { displayName: '  ', permissions: ['all'], expiresAt: '2000-01-01T00:00:00Z', allowedIps: ['10.0.0.0/8', 'nowhere'] }),
    ) as ZodError;
    expect(error.issues.map((issue) => [issue.path.join('.'), issue.message])).toEqual([
      ['displayName', 'must not be empty'],
      ['expiresAt', 'must be in the future'],
      ['allowedIps', 'not an IP address or CIDR range: nowhere'],
    ]);
  });

  it('keeps ranges in canonical form', () => {
    const fields = newKeyFields('account', { displayName: 'Ops', permissions: ['app:read'], allowedIps: ['192.0.2.7', '2001:DB8::/32'] });
    expect(fields.allowedIps).toEqual(['192.0.2.7/32', '2001:db8:0:0:0:0:0:0/32']);
  });
});

describe('a key made by a credential', () => {
  it("gets the creator's own permissions of its level when it names none (the SDKs send none)", () => {
    const fields = newKeyFields('app', { displayName: 'From the API' }, creator());
    expect(fields.permissions).toEqual(['app:read', 'keys:manage']);
  });

  it("may narrow the creator's permissions, never widen them", () => {
    expect(newKeyFields('app', { displayName: 'Narrow', permissions: ['app:read'] }, creator()).permissions).toEqual(['app:read']);
    const wider = refusal(() => newKeyFields('app', { displayName: 'Wide', permissions: ['app:read', 'message:send'] }, creator()));
    expect(wider).toBeInstanceOf(ForbiddenProblem);
    expect((wider as ForbiddenProblem).reason).toBe('permission');
  });

  it('is refused when the creator holds nothing a key of its level may hold', () => {
    const error = refusal(() => newKeyFields('app', { displayName: 'Nothing' }, creator({ permissions: new Set() })));
    expect((error as ForbiddenProblem).reason).toBe('permission');
  });

  it('expires when the creator does, or sooner, never later', () => {
    const creatorExpiry = inAnHour();
    expect(newKeyFields('app', { displayName: 'Same' }, creator({ expiresAt: creatorExpiry })).expiresAt).toEqual(creatorExpiry);
    const sooner = new Date(Date.now() + 60_000);
    expect(newKeyFields('app', { displayName: 'Sooner', expiresAt: sooner.toISOString() }, creator({ expiresAt: creatorExpiry })).expiresAt).toEqual(sooner);
    const later = new Date(creatorExpiry.getTime() + 60_000).toISOString();
    expect((refusal(() => newKeyFields('app', { displayName: 'Later', expiresAt: later }, creator({ expiresAt: creatorExpiry }))) as ForbiddenProblem).reason).toBe('expired');
  });

  it("stays inside the creator's ranges: its own when none are named, narrower ones allowed, wider refused", () => {
    const confined = creator({ allowedIps: ['10.0.0.0/8'] });
    expect(newKeyFields('app', { displayName: 'Same' }, confined).allowedIps).toEqual(['10.0.0.0/8']);
    expect(newKeyFields('app', { displayName: 'Narrow', allowedIps: ['10.1.0.0/16'] }, confined).allowedIps).toEqual(['10.1.0.0/16']);
    const wider = refusal(() => newKeyFields('app', { displayName: 'Wide', allowedIps: ['0.0.0.0/0'] }, confined));
    expect((wider as ForbiddenProblem).reason).toBe('ip_not_allowed');
  });
});
