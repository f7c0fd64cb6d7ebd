import type { Context } from 'koa';
import { eventTypes, type EventType } from '../../events/events.ts';
import { showActivity } from '../activity.ts';
import { ownerOf } from '../owner-sessions.ts';
import { pageApp, type DashboardDependencies } from './dashboard.ts';

/** What an owner's activity shows: everything recorded about the account, except the operator's own bookkeeping. */
const ownerEventTypes: readonly EventType[] = eventTypes.filter((type) => type !== 'operator.command' && !type.startsWith('signing_key.'));

/** GET /dashboard/activity: everything recorded about the owner's account. */
export function showAccountActivity(deps: DashboardDependencies) {
  return (ctx: Context) =>
    showActivity(ctx, { db: deps.db, csrf: deps.csrf, retentionDays: deps.settings.EVENT_RETENTION_DAYS }, {
      title: 'Activity',
      filter: { accountId: ownerOf(ctx).id },
      types: ownerEventTypes,
      reader: { accountId: ownerOf(ctx).id },
    });
}

/** GET /dashboard/apps/:appId/activity: what happened to one app, its integrations and its keys. */
export function showAppActivity(deps: DashboardDependencies) {
  return (ctx: Context) => {
    const app = pageApp(ctx);
    return showActivity(ctx, { db: deps.db, csrf: deps.csrf, retentionDays: deps.settings.EVENT_RETENTION_DAYS }, {
      title: `Activity of ${app.display_name}`,
      back: { href: `/dashboard/apps/${app.id}`, label: app.display_name },
      filter: { accountId: ownerOf(ctx).id, appId: app.id },
      types: ownerEventTypes.filter((type) => !type.startsWith('owner.')),
      reader: { accountId: ownerOf(ctx).id },
    });
  };
}
