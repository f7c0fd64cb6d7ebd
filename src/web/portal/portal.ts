import type { Context, Next } from 'koa';
import type { Knex } from 'knex';
import type { Settings } from '../../config/settings.ts';
import type { SecretHasher } from '../../partners/partner-secrets.ts';
import { findPartner, type PublicPartner } from '../../partners/partners.ts';
import type { CsrfGuard } from '../../http/csrf.ts';
import type { PageFlashes } from '../page-flashes.ts';
import { PageProblem } from '../../http/problems.ts';
import { ownerOf, type OwnerSessions } from '../owner-sessions.ts';

export interface PortalDependencies {
  db: Knex;
  settings: Settings;
  partnerSecrets: SecretHasher;
  csrf: CsrfGuard;
  sessions: OwnerSessions;
  /** What a page shows once after a form redirected to it. */
  flashes: PageFlashes;
}

/** The integration forms' fields as their labels name them. */
export const partnerFormLabels = {
  name: 'name',
  redirectUris: 'redirect URL',
  permissions: 'permissions',
  logoUrl: 'logo URL',
  website: 'website',
  description: 'description',
  developer: 'developer',
  privacyPolicyUrl: 'privacy policy URL',
  termsUrl: 'terms URL',
  removeUrl: 'removal notice URL',
  accessNote: 'note to owners',
  optionalPermissions: 'optional permissions',
};

/** The owner's own integration named in the path; anyone else's is not found. */
export function ownPartner(db: Knex) {
  return async (ctx: Context, next: Next): Promise<void> => {
    const partner = await findPartner(db, ctx.params.partnerId as string);
    if (!partner || partner.role !== 'partner' || partner.account_id !== ownerOf(ctx).id) {
      throw new PageProblem(404, 'Integration not found', 'There is no such integration in your account.');
    }
    ctx.state.partner = partner;
    return next();
  };
}

export function pagePartner(ctx: Context): PublicPartner {
  return ctx.state.partner as PublicPartner;
}
