import type { Context } from 'koa';
import { listNoticesOfPartner, redeliverNotice, sendTestNotice } from '../../notices/delivery-log.ts';
import { PageProblem } from '../../http/problems.ts';
import { renderPage } from '../../http/render.ts';
import { seeOther } from '../../http/see-other.ts';
import { ownerOf, pageSession } from '../owner-sessions.ts';
import { pagePartner, type PortalDependencies } from './portal.ts';

const done: Record<string, string> = {
  test: 'A test notice was queued; it appears below with its delivery attempts.',
  redelivered: 'The notice was queued again.',
};

/** GET /partners/{id}/notices: the delivery log, newest notice first. */
export function showNoticeLog({ db, csrf }: PortalDependencies) {
  return async (ctx: Context, status = 200, error?: string): Promise<void> => {
    const partner = pagePartner(ctx);
    renderPage(ctx, status, 'noticeLogPage', {
      session: pageSession(ctx, csrf),
      partner: { id: partner.id, name: partner.name, noticeUrl: partner.remove_url },
      notices: await listNoticesOfPartner(db, partner.id),
      notice: done[String(ctx.query.done)],
      error,
    });
  };
}

/** POST /partners/{id}/notices/test: a `notice.test` through the same outbox, signature and retries as every notice. */
export function queueTestNotice(deps: PortalDependencies) {
  const show = showNoticeLog(deps);
  return async (ctx: Context): Promise<void> => {
    const partner = pagePartner(ctx);
    if (!(await sendTestNotice(deps.db, partner.id))) return show(ctx, 400, 'Register a notice URL (removal notice URL) before sending a test notice.');
    seeOther(ctx, `/partners/${partner.id}/notices?done=test`);
  };
}

/** POST /partners/{id}/notices/{noticeId}/redeliver: another partner's notice is not found. */
export function redeliver(deps: PortalDependencies) {
  const show = showNoticeLog(deps);
  return async (ctx: Context): Promise<void> => {
    const partner = pagePartner(ctx);
    const outcome = await redeliverNotice(deps.db, partner.id, ctx.params.noticeId as string, { type: 'owner', id: ownerOf(ctx).id });
    if (outcome === 'not_found') throw new PageProblem(404, 'Notice not found', 'This integration has no such notice.');
    if (outcome === 'pending') return show(ctx, 409, 'That notice is still being delivered; it can be sent again once it is delivered or has failed.');
    seeOther(ctx, `/partners/${partner.id}/notices?done=redelivered`);
  };
}
