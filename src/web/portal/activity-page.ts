import type { Context } from 'koa';
import type { EventType } from '../../events/events.ts';
import { showActivity } from '../activity.ts';
import { pagePartner, type PortalDependencies } from './portal.ts';
import { ownerOf } from '../owner-sessions.ts';

/**
 * What a partner sees of its own integration: its approvals, removals with
 * their cause, notice deliveries and changes to its registration; never an
 * owner's sign-ins, keys or addresses.
 */
const partnerEventTypes: readonly EventType[] = [
  'authorization.approved',
  'authorization.updated',
  'authorization.denied',
  'authorization.removed',
  'authorization.tokens_revoked',
  'notice.delivered',
  'notice.failed',
  'notice.redelivered',
  'partner.suspended',
  'partner.resumed',
  'partner.updated',
  'partner.registered',
  'partner.approved',
  'partner.secret_rotated',
  'partner.redirect_urls_changed',
];

/** GET /partners/:partnerId/activity */
export function showIntegrationActivity(deps: PortalDependencies) {
  return (ctx: Context) => {
    const partner = pagePartner(ctx);
    return showActivity(ctx, { db: deps.db, csrf: deps.csrf, retentionDays: deps.settings.EVENT_RETENTION_DAYS }, {
      title: `Activity of ${partner.name}`,
      back: { href: `/partners/${partner.id}`, label: partner.name },
      filter: { partnerId: partner.id },
      types: partnerEventTypes,
      reader: { partnerId: partner.id, accountId: ownerOf(ctx).id },
    });
  };
}
