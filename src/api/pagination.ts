import { z } from 'zod';

/** The cursor paging every /v2 list takes: an id after or before which to start, and a page size. */
function pageFields(what: string) {
  const cursor = z.string().regex(/^[0-9a-f]{24}$/, `must be ${what}`);
  return { 'page[after]': cursor.optional(), 'page[before]': cursor.optional(), 'page[size]': z.coerce.number().int().min(1).max(100).default(25) };
}

const oneDirection = (query: { 'page[after]'?: string | undefined; 'page[before]'?: string | undefined }) => !(query['page[after]'] && query['page[before]']);
const oneDirectionMessage = 'Only one of page[after] or page[before] can be provided';

/** GET /v2/apps: cursor paging (an app id, after or before) and the service-account filter of the v2 contract. */
export const appListQuery = z
  .object({ ...pageFields('an app id'), 'filter[serviceAccountId]': z.string().optional() })
  .refine(oneDirection, oneDirectionMessage);

/** GET /v2/partner/installations: the same paging, by installation id. */
export const installationListQuery = z.object(pageFields('an installation id')).refine(oneDirection, oneDirectionMessage);

/** What the navigation of a page needs of its query. */
export type PageQuery = Pick<z.output<typeof appListQuery>, 'page[after]' | 'page[before]' | 'page[size]'>;

export type AppListQuery = z.output<typeof appListQuery>;

/**
 * The `meta` and `links` of a page (of apps, installations…): cursors for
 * its first and last item, and links to the next and previous pages when there are any, which
 * repeat the page size.
 */
export function pageNavigation(page: { items: readonly { id: string }[]; hasMore: boolean }, query: PageQuery, listUrl: string) {
  const first = page.items[0]?.id;
  const last = page.items.at(-1)?.id;
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
