import { z } from 'zod';
import { permissionsOfLevel } from '../permissions/catalog.ts';

/**
 * The shapes of the OAuth endpoints as appgrant answers them, where it adds
 * to or narrows the RFCs: the engine (oidc-provider) validates the requests
 * itself, and these schemas describe what it takes and what it answers with
 * appgrant's additions (`app_id`, `account_id`, DPoP binding), for the API's
 * description (src/api/openapi.ts) and the contract tests that check every
 * answer against it.
 */

const clientCredentials = {
  client_id: z.string().optional().meta({ description: 'client_secret_post; or use HTTP Basic (client_secret_basic)' }),
  client_secret: z.string().optional().meta({ description: 'client_secret_post; or use HTTP Basic (client_secret_basic)' }),
};

const permissionList = z.string().meta({
  description: `Space-separated permissions, a subset of those the partner registered: ${permissionsOfLevel('app').join(', ')}`,
});

/** POST /oauth/token, as a form or a JSON object of strings. */
export const tokenRequestSchema = z.discriminatedUnion('grant_type', [
  z.object({
    grant_type: z.literal('authorization_code'),
    code: z.string(),
    redirect_uri: z.string().optional().meta({ description: "Omitted: the partner's first registered redirect URL, as at /oauth/authorize" }),
    code_verifier: z.string().optional().meta({ description: 'PKCE (RFC 7636), S256' }),
    resource: z.string().optional(),
    ...clientCredentials,
  }),
  z.object({
    grant_type: z.literal('refresh_token'),
    refresh_token: z.string(),
    scope: permissionList.optional(),
    resource: z.string().optional(),
    ...clientCredentials,
  }),
]);

/** The token response of RFC 6749 §5.1, with the app the token acts on. */
export const tokenAnswerSchema = z
  .object({
    access_token: z.string(),
    token_type: z.enum(['Bearer', 'DPoP']).meta({ description: 'DPoP when the request carried a DPoP proof (RFC 9449): the token is bound to its key' }),
    expires_in: z.number().int(),
    scope: permissionList,
    refresh_token: z.string().optional().meta({ description: 'Rotated on every use' }),
    app_id: z.string().meta({ description: 'The app the owner approved the partner for; the token acts on it only' }),
  })
  .strict();

/** POST /oauth/introspect (RFC 7662) and POST /oauth/revoke (RFC 7009). */
export const tokenOperationRequestSchema = z.object({
  token: z.string(),
  token_type_hint: z.enum(['access_token', 'refresh_token']).optional(),
  ...clientCredentials,
});

/** An introspection answer: `active: false` alone, or what the token is. */
export const introspectionAnswerSchema = z.union([
  z.object({ active: z.literal(false) }).strict(),
  z
    .object({
      active: z.literal(true),
      client_id: z.string(),
      app_id: z.string().optional(),
      account_id: z.string().optional(),
      sub: z.string().optional(),
      scope: z.string().optional(),
      token_type: z.string().optional(),
      aud: z.union([z.string(), z.array(z.string())]).optional(),
      iss: z.string(),
      exp: z.number().int(),
      iat: z.number().int(),
      jti: z.string().optional(),
      cnf: z.object({ jkt: z.string() }).strict().optional().meta({ description: 'A DPoP-bound token: the thumbprint of its key (RFC 9449 §6.2)' }),
    })
    .strict(),
]);

/** GET /oauth/jwks: the public half of every published signing key (ES256), which removal notices are signed with. */
export const jwksSchema = z
  .object({
    keys: z.array(
      z.object({ kty: z.literal('EC'), crv: z.literal('P-256'), x: z.string(), y: z.string(), kid: z.string(), alg: z.literal('ES256'), use: z.literal('sig') }).strict(),
    ),
  })
  .strict();

/** GET /oauth/authorize's query, and the form a partner pushes to /oauth/par (RFC 9126). */
export const authorizationRequestSchema = z.object({
  client_id: z.string(),
  response_type: z.literal('code'),
  redirect_uri: z.string().optional().meta({ description: "One of the partner's registered URLs, compared exactly; omitted: the first one" }),
  state: z.string().optional().meta({ description: 'Returned unchanged with the code or the error' }),
  code_challenge: z.string().optional().meta({ description: 'PKCE (RFC 7636)' }),
  code_challenge_method: z.literal('S256').optional(),
  scope: permissionList.optional().meta({ description: 'Omitted: every permission the partner registered' }),
  response_mode: z.enum(['query', 'form_post']).optional(),
  request_uri: z.string().optional().meta({ description: 'At /oauth/authorize only: the request_uri /oauth/par answered, with client_id' }),
});

/** The answer of /oauth/par: where the browser goes next, and for how long that works. */
export const pushedAuthorizationAnswerSchema = z.object({ request_uri: z.string(), expires_in: z.number().int() }).strict();
