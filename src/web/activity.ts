import type { Context } from 'koa';
import type { Knex } from 'knex';
import { z } from 'zod';
import type { CsrfGuard } from '../http/csrf.ts';
import { renderPage } from '../http/render.ts';
import { describeEvent, type Reader } from '../events/describe.ts';
import { pageEvents, type EventFilter, type EventType } from '../events/events.ts';
import { pageSession } from './owner-sessions.ts';

const activityQuery = z.object({
  type: z.string().optional(),
  before: z.string().regex(/^\d{1,18}$/).optional(),
});

const pageSize = 50;

export interface ActivityScope {
  title: string;
  back?: { href: string; label: string };
  /** Which events this page may show at all: an owner's account or app, a partner's own integration. */
  filter: EventFilter;
  /** The event types this audience may see and filter by. */
  types: readonly EventType[];
  reader: Reader;
}

/**
 * An activity page: one page of the scope's events, newest first, in plain
 * words; ?type= narrows to one kind, ?before= goes back in time. A query
 * that does not parse shows the first page rather than an error.
 */
export async function showActivity(ctx: Context, deps: { db: Knex; csrf: CsrfGuard; retentionDays: number }, scope: ActivityScope): Promise<void> {
  const parsed = activityQuery.safeParse(ctx.query);
  const query = parsed.success ? parsed.data : {};
  const selectedType = scope.types.find((type) => type === query.type);
  const page = await pageEvents(deps.db, { ...scope.filter, types: selectedType ? [selectedType] : scope.types }, { before: query.before, size: pageSize });
  const last = page.events.at(-1)?.id;
  const older = page.hasMore && last ? `${ctx.path}?${new URLSearchParams({ ...(selectedType ? { type: selectedType } : {}), before: last })}` : undefined;
  renderPage(ctx, 200, 'activityPage', {
    session: pageSession(ctx, deps.csrf),
    title: scope.title,
    back: scope.back,
    action: ctx.path,
    types: scope.types,
    selectedType,
    entries: page.events.map((event) => ({ at: event.occurred_at, type: event.type, sentence: describeEvent(event, scope.reader) })),
    olderHref: older,
    retentionDays: deps.retentionDays,
  });
}
