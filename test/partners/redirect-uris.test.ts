import { describe, expect, it } from 'vitest';
import { redirectUri } from '../../src/partners/partners.ts';

/**
 * Which redirect URLs a partner may register (docs/contract.md, "Concepts":
 * compared byte for byte, so checked strictly when registered).
 */

const messages = (value: string, production: boolean) => redirectUri(production).safeParse(value).error?.issues.map((issue) => issue.message) ?? [];

describe('a redirect URL', () => {
  it.each([
    'https://partner.example/callback',
    'https://partner.example:8443/oauth/callback?tenant=1',
    'http://localhost:8080/callback',
    'http://127.0.0.1/callback',
    'http://[::1]:3000/cb',
  ])('%s is accepted in production', (value) => {
    expect(messages(value, true)).toEqual([]);
  });

  it.each([
    ['not a url', 'must be an absolute URL'],
    ['/relative/callback', 'must be an absolute URL'],
    ['https://partner.example/cb#section', 'must not contain a fragment'],
    ['https://user:pass@partner.example/cb', 'must not contain credentials'],
    ['https://*.partner.example/cb', 'must not contain wildcards'],
    ['http://partner.example/cb', 'must use https (http only for localhost)'],
    ['ftp://partner.example/cb', 'must use https (http only for localhost)'],
  ])('%s is refused in production: %s', (value, message) => {
    expect(messages(value, true)).toContain(message);
  });

  it('may use plain http outside production, for development', () => {
    expect(messages('http://partner.test/cb', false)).toEqual([]);
    expect(messages('ftp://partner.test/cb', false)).toContain('must use https (http only for localhost)');
  });
});
