import type { Context, Next } from 'koa';
import type { KoaContextWithOIDC } from 'oidc-provider';

/**
 * How authorization responses may travel: in the redirect's query, or as an
 * auto-submitted form (its script allowed by the page's CSP hash). The
 * fragment is refused: the partner's server never sees it.
 */
export const responseModes = ['query', 'form_post'];

/**
 * The RFC 8414 fields this server advertises; each names something a test
 * exercises through the real endpoints with a standard client. Whatever else
 * the engine would add (OpenID Connect fields: no ID token is ever issued;
 * anything a future engine version introduces) is left out until it works.
 */
const advertisedFields = new Set([
  'issuer',
  'authorization_endpoint',
  'token_endpoint',
  'jwks_uri',
  'scopes_supported',
  'response_types_supported',
  'response_modes_supported',
  'grant_types_supported',
  'token_endpoint_auth_methods_supported',
  'code_challenge_methods_supported',
  'authorization_response_iss_parameter_supported',
  'pushed_authorization_request_endpoint',
  'introspection_endpoint',
  'revocation_endpoint',
  'dpop_signing_alg_values_supported',
]);

/** What partners can actually use, where the engine would list everything it supports. */
export interface PartnerCapabilities {
  /** The permissions a partner may be granted. */
  scopes: readonly string[];
  grantTypes: readonly string[];
}

/** The discovery document cut to what works. */
export function advertiseWhatWorks({ scopes, grantTypes }: PartnerCapabilities) {
  return async function trimMetadata(ctx: Context, next: Next): Promise<void> {
    await next();
    const { oidc } = ctx as unknown as KoaContextWithOIDC;
    if (oidc?.route !== 'discovery' || ctx.status !== 200) return;
    const engine = ctx.body as Record<string, unknown>;
    const metadata = Object.fromEntries(Object.entries(engine).filter(([field]) => advertisedFields.has(field)));
    ctx.body = { ...metadata, scopes_supported: [...scopes], grant_types_supported: [...grantTypes], response_modes_supported: [...responseModes] };
  };
}
