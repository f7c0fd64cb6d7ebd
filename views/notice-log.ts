import { html, type Html } from './html.ts';
import { csrfField, formatDate, layout } from './layout.ts';

type Session = { email: string; csrfToken: string };

export interface NoticeLogView {
  session: Session;
  partner: { id: string; name: string; noticeUrl: string | null };
  notices: ReadonlyArray<{
    id: string;
    event: string;
    appId: string | null;
    createdAt: Date;
    state: 'pending' | 'delivered' | 'failed';
    nextAttemptAt: Date | null;
    attempts: ReadonlyArray<{ at: Date; statusCode: number | null; latencyMs: number; error: string | null; nextAttemptAt: Date | null }>;
  }>;
  notice?: string | undefined;
  error?: string | undefined;
}

const stateLabels = { pending: 'Pending', delivered: 'Delivered', failed: 'Failed' };

function attemptsTable(attempts: NoticeLogView['notices'][number]['attempts']): Html {
  if (!attempts.length) return html`<p class="muted">No attempt yet.</p>`;
  return html`<table class="stack">
<thead><tr><th scope="col">Attempted</th><th scope="col">Status code</th><th scope="col">Latency</th><th scope="col">Error</th><th scope="col">Next retry</th></tr></thead>
<tbody>${attempts.map(
    (attempt) => html`<tr><td>${formatDate(attempt.at)}</td><td data-label="Status code">${attempt.statusCode ?? '—'}</td><td data-label="Latency">${attempt.latencyMs} ms</td><td data-label="Error">${attempt.error ?? ''}</td><td data-label="Next retry">${attempt.nextAttemptAt ? formatDate(attempt.nextAttemptAt) : '—'}</td></tr>`,
  )}</tbody>
</table>`;
}

/** /partners/{id}/notices: every notice sent to the partner and every attempt to deliver it. */
export function noticeLogPage(view: NoticeLogView): Html {
  const { partner, session } = view;
  return layout({
    title: `Notices to ${partner.name}`,
    session,
    wide: true,
    body: html`<p><a href="/partners/${partner.id}">← ${partner.name}</a></p>
<h1>Notices and deliveries</h1>
<p>Notice URL: ${partner.noticeUrl ? html`<code>${partner.noticeUrl}</code>` : 'none registered: no notice is sent'}</p>
${view.notice ? html`<p class="notice" role="status">${view.notice}</p>` : ''}
${view.error ? html`<p class="error" role="alert">${view.error}</p>` : ''}
<form method="post" action="/partners/${partner.id}/notices/test">
${csrfField(session.csrfToken)}
<button type="submit">Send test notice</button>
</form>
${
  view.notices.length
    ? view.notices.map(
        (notice) => html`<section aria-label="Notice ${notice.id}">
<h2><code>${notice.event}</code> <span class="badge${notice.state === 'delivered' ? '' : ' pending'}">${stateLabels[notice.state]}</span></h2>
<p class="muted">Notice <code>${notice.id}</code>${notice.appId ? html` about app <code>${notice.appId}</code>` : ''}, queued ${formatDate(notice.createdAt)}${
          notice.nextAttemptAt ? html`; next attempt ${formatDate(notice.nextAttemptAt)}` : ''
        }</p>
${attemptsTable(notice.attempts)}
${
  notice.state === 'pending'
    ? ''
    : html`<form method="post" action="/partners/${partner.id}/notices/${notice.id}/redeliver" class="inline">${csrfField(session.csrfToken)}<button type="submit" aria-label="Redeliver ${notice.id}">Redeliver</button></form>`
}
</section>`,
      )
    : html`<p class="empty">No notice has been sent yet.</p>`
}`,
  });
}
