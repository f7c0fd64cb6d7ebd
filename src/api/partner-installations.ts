import type Router from '@koa/router';
import type { Context, Next } from 'koa';
import type { z } from 'zod';
import { pageInstallationsOfPartner } from '../authorizations/authorizations.ts';
import type { PartnerRow } from '../partners/partners.ts';
import { ApiProblem } from '../http/problems.ts';
import type { PartnerClientAuthenticator } from '../oauth/client-secrets.ts';
import { installationListQuery, pageNavigation } from './pagination.ts';
import { presentInstallation, type installationListAnswer } from './presenters.ts';
import type { ApiDependencies } from './dependencies.ts';

/**
 * What a partner calls with its own client credentials (client_secret_basic,
 * as at the token endpoint), about its own integration only.
 */
export function partnerRoutes(router: Router, deps: ApiDependencies): void {
  router.get('/partner/installations', authenticatedPartner(deps.partnerClients), listInstallations(deps));
}

const challenge = { 'WWW-Authenticate': 'Basic realm="appgrant"' };
const refused = () => new ApiProblem(401, 'unauthorized', 'Authenticate with the integration\'s client_id and client_secret (HTTP Basic)', challenge);

/** client_secret_basic (RFC 6749 §2.3.1): the id and secret, each form-urlencoded, as HTTP Basic credentials. */
function clientCredentials(header: string): { clientId: string; secret: string } | undefined {
  const basic = /^Basic +([A-Za-z0-9+/]+=*)$/i.exec(header.trim());
  if (!basic?.[1]) return undefined;
  const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
  const separator = decoded.indexOf(':');
  if (separator <= 0) return undefined;
  try {
    return { clientId: decodeURIComponent(decoded.slice(0, separator).replace(/\+/g, ' ')), secret: decodeURIComponent(decoded.slice(separator + 1).replace(/\+/g, ' ')) };
  } catch {
    return undefined;
  }
}

function authenticatedPartner(partnerClients: PartnerClientAuthenticator) {
  return async (ctx: Context, next: Next): Promise<void> => {
    const credentials = clientCredentials(ctx.get('authorization'));
    if (!credentials || credentials.clientId.includes('\0') || credentials.secret.includes('\0')) throw refused();
    const result = await partnerClients.authenticate(credentials.clientId, credentials.secret, ctx.ip);
    if (result.outcome === 'throttled') {
      throw new ApiProblem(429, 'too_many_requests', `Too many failed authentications; retry in ${result.retryAfter} seconds`, { 'Retry-After': String(result.retryAfter) });
    }
    if (result.outcome === 'refused') throw refused();
    ctx.state.partner = result.partner;
    return next();
  };
}

/** GET /v2/partner/installations: the partner's live authorizations, a page at a time, like every /v2 list. */
function listInstallations({ db, issuer }: ApiDependencies) {
  return async (ctx: Context): Promise<void> => {
    const query = installationListQuery.parse(ctx.query);
    const partner = ctx.state.partner as PartnerRow;
    const page = await pageInstallationsOfPartner(db, partner.id, { after: query['page[after]'], before: query['page[before]'], size: query['page[size]'] });
    ctx.body = {
      installations: page.installations.map(presentInstallation),
      ...pageNavigation({ items: page.installations, hasMore: page.hasMore }, query, `${issuer}/v2/partner/installations`),
    } satisfies z.output<typeof installationListAnswer>;
  };
}
