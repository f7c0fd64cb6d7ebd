import * as oauth from 'oauth4webapi';
import { CookieBrowser } from './browser.ts';
import { authorizeThroughPages, type OwnerCredentials } from './flow.ts';

/** oauth4webapi against the test server's plain-http issuer. */
export const insecure = { [oauth.allowInsecureRequests]: true };

/** The server's RFC 8414 metadata, read and checked by the client library. */
export async function discover(issuer: string): Promise<oauth.AuthorizationServer> {
  const url = new URL(issuer);
  return oauth.processDiscoveryResponse(url, await oauth.discoveryRequest(url, { algorithm: 'oauth2', ...insecure }));
}

export interface AuthorizationAttempt {
  base: string;
  as: oauth.AuthorizationServer;
  clientId: string;
  redirectUri: string;
  owner: OwnerCredentials;
}

/**
 * Walks the consent pages with PKCE S256 and a state, and checks the
 * authorization response as the client library does (state and iss).
 */
export async function authorizedWithPkce(
  { base, as, clientId, redirectUri, owner }: AuthorizationAttempt,
  query: Record<string, string> = {},
): Promise<{ params: URLSearchParams; verifier: string }> {
  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const callback = await authorizeThroughPages(
    new CookieBrowser(base),
    {
      client_id: clientId,
      response_type: 'code',
      redirect_uri: redirectUri,
      state,
      code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      ...query,
    },
    owner,
  );
  return { params: oauth.validateAuthResponse(as, { client_id: clientId }, callback, state), verifier };
}
