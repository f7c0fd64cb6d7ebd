import { z } from 'zod';
import type { AppPage } from '../apps/apps.ts';

const cursor = z.string().regex(/^[0-9a-f]{24}$/, 'must be an app id');

/** GET /v2/apps: cursor paging (an app id, after or before) and the service-account filter of the v2 contract. */
export const appListQuery = z
  .object({
    'page[after]': cursor.optional(),
    'page[before]': cursor.optional(),
    'page[size]': z.coerce.number().int().min(1).max(100).default(25),
    'filter[serviceAccountId]': z.string().optional(),
  })
  .refine((query) => !(query['page[after]'] && query['page[before]']), 'Only one of page[after] or page[before] can be provided');

export type AppListQuery = z.output<typeof appListQuery>;

/**
 * The `meta` and `links` of a page of apps: cursors for its first and last
 * app, and links to the next and previous pages when there are any, which
 * repeat the page size.
 */
export function pageNavigation(page: AppPage, query: AppListQuery, listUrl: string) {
  const first = page.apps[0]?.id;
  const last = page.apps.at(-1)?.id;
  const link = (direction: 'after' | 'before', id: string) =>
    `${listUrl}?${new URLSearchParams({ [`page[${direction}]`]: id, 'page[size]': String(query['page[size]']) })}`;
  const backwards = query['page[before]'] !== undefined;
  const hasNext = backwards ? last !== undefined : page.hasMore;
  const hasPrev = backwards ? page.hasMore : query['page[after]'] !== undefined && first !== undefined;
  return {
    meta: { hasMore: page.hasMore, ...(last ? { afterCursor: last } : {}), ...(first ? { beforeCursor: first } : {}) },
    links: { ...(hasNext && last ? { next: link('after', last) } : {}), ...(hasPrev && first ? { prev: link('before', first) } : {}) },
  };
}
