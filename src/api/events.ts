import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { eventTypes, pageEvents, presentEvent } from '../events/events.ts';
import { appOf, appOrAccount, type Guard } from './access.ts';
import type { ApiDependencies } from './dependencies.ts';
import type { eventListAnswer } from './presenters.ts';

const eventCursor = z.string().regex(/^\d{1,18}$/, 'must be an event id');

/** GET /v2/apps/{appId}/events: newest first, `page[before]` the last id of the previous page. */
export const eventListQuery = z.object({
  'page[before]': eventCursor.optional(),
  'page[size]': z.coerce.number().int().min(1).max(100).default(25),
  'filter[type]': z.enum(eventTypes).optional(),
});

/** The app's audit trail for the platform API: credentials of the app (or its account) holding events:read. */
export function eventRoutes(router: Router, deps: ApiDependencies, guard: Guard): void {
  router.get('/apps/:appId/events', guard(appOrAccount, ['events:read']), listAppEvents(deps));
}

function listAppEvents({ db, issuer }: ApiDependencies) {
  return async (ctx: Context): Promise<void> => {
    const query = eventListQuery.parse(ctx.query);
    const app = appOf(ctx);
    const type = query['filter[type]'];
    const page = await pageEvents(db, { appId: app.id, types: type ? [type] : undefined }, { before: query['page[before]'], size: query['page[size]'] });
    const last = page.events.at(-1)?.id;
    const next = new URLSearchParams({ ...(type ? { 'filter[type]': type } : {}), 'page[before]': last ?? '', 'page[size]': String(query['page[size]']) });
    ctx.body = {
      events: page.events.map(presentEvent),
      meta: { hasMore: page.hasMore, ...(last ? { beforeCursor: last } : {}) },
      links: page.hasMore && last ? { next: `${issuer}/v2/apps/${app.id}/events?${next}` } : {},
    } satisfies z.output<typeof eventListAnswer>;
  };
}
