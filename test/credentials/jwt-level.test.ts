import { describe, expect, it } from 'vitest';
import { jwtLevel, looksLikeJwt } from '../../src/credentials/jwt.ts';
import { levelOfOwner } from '../../src/credentials/api-keys.ts';

/**
 * The level a JWT acts at (docs/contract.md, "Credentials"): the `scope`
 * claim asks, the signing key's owner decides what it may ask for. App keys
 * sign app and appUser tokens, account and service-account keys only
 * account tokens; anything else is no level at all (a 401).
 */

describe('the level of a key', () => {
  it.each([
    ['app', 'app'],
    ['account', 'account'],
    ['service_account', 'account'],
  ] as const)('a %s key acts at %s level', (owner, level) => {
    expect(levelOfOwner(owner)).toBe(level);
  });
});

describe('the level a JWT acts at', () => {
  it.each([
    ['app', 'app', 'app'],
    ['app', 'appUser', 'appUser'],
    ['account', 'account', 'account'],
    ['service_account', 'account', 'account'],
  ] as const)('a %s key signing scope %s acts at %s level', (owner, scope, level) => {
    expect(jwtLevel(scope, owner)).toBe(level);
  });

  it.each([
    ['app', 'account'],
    ['account', 'app'],
    ['account', 'appUser'],
    ['service_account', 'app'],
    ['service_account', 'appUser'],
  ] as const)('a %s key cannot sign scope %s', (owner, scope) => {
    expect(jwtLevel(scope, owner)).toBeUndefined();
  });

  it.each([undefined, null, '', 'App', 'ACCOUNT', 'user', 'app account', ['app'], { scope: 'app' }, 1])('scope %j is no level', (scope) => {
    expect(jwtLevel(scope, 'app')).toBeUndefined();
    expect(jwtLevel(scope, 'account')).toBeUndefined();
  });
});

describe('what is read as a JWT', () => {
  it.each(['eyJhbGciOiJIUzI1NiJ9.eyJzY29wZSI6ImFwcCJ9.c2ln', 'a.b.', 'a-_.b_-.c'])('%s has the three-part shape', (token) => {
    expect(looksLikeJwt(token)).toBe(true);
  });

  it.each(['', 'opaque-token', 'a.b', 'a.b.c.d', 'a.b.c=', 'a b.c.d', 'a+b.c.d'])('%j does not', (token) => {
    expect(looksLikeJwt(token)).toBe(false);
  });
});
