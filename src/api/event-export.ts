import { createHash, timingSafeEqual } from 'node:crypto';
import Router from '@koa/router';
import type { Context } from 'koa';
import type { Knex } from 'knex';
import { z } from 'zod';
import { eventsAfter, eventTypes, presentEvent } from '../events/events.ts';
import { ApiProblem } from '../http/problems.ts';

/** GET /ops/events: where to start, which events, how many. */
export const exportQuery = z.object({
  after: z.string().regex(/^\d{1,18}$/, 'must be an event id').optional(),
  since: z.iso.datetime({ offset: true }).transform((value) => new Date(value)).optional(),
  type: z.union([z.enum(eventTypes), z.array(z.enum(eventTypes))]).transform((value) => (Array.isArray(value) ? value : [value])).optional(),
  account: z.string().max(64).optional(),
  app: z.string().max(64).optional(),
  partner: z.string().max(64).optional(),
  limit: z.coerce.number().int().min(1).max(5000).default(1000),
});

const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * GET /ops/events: the audit trail for a SIEM, as NDJSON (one event per line,
 * oldest first). A collector polls with ?after=<the last id it stored>. It
 * exists only when EVENTS_EXPORT_TOKEN is configured, and answers only
 * `Authorization: Bearer <that token>`.
 */
export function eventExportRouter(db: Knex, exportToken: string | undefined): Router {
  const router = new Router();
  if (!exportToken) return router;
  const expected = digest(exportToken);
  router.get('/ops/events', async (ctx: Context) => {
    const presented = /^Bearer +(\S+)$/i.exec(ctx.get('authorization'))?.[1];
    if (!presented || !timingSafeEqual(digest(presented), expected)) {
      throw new ApiProblem(401, 'unauthorized', 'Authorization is required', { 'WWW-Authenticate': 'Bearer realm="appgrant-events"' });
    }
    const query = exportQuery.parse(ctx.query);
    const filter = { accountId: query.account, appId: query.app, partnerId: query.partner, types: query.type, since: query.since };
    const events = await eventsAfter(db, filter, query.after, query.limit);
    ctx.set('Cache-Control', 'no-store');
    ctx.type = 'application/x-ndjson';
    ctx.body = events.map((event) => `${JSON.stringify(presentEvent(event))}\n`).join('');
  });
  return router;
}
