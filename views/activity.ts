import { html, type Html } from './html.ts';
import { formatDate, layout } from './layout.ts';

export interface ActivityView {
  session: { email: string; csrfToken: string };
  title: string;
  /** Where "back" leads (the app's page, the integration's page). */
  back?: { href: string; label: string } | undefined;
  /** The page's own address, which the filter form submits to. */
  action: string;
  types: readonly string[];
  selectedType?: string | undefined;
  entries: ReadonlyArray<{ at: Date | string; sentence: string; type: string }>;
  olderHref?: string | undefined;
  retentionDays: number;
}

/** An activity log: newest first, filterable by type, one sentence a line. */
export function activityPage(view: ActivityView): Html {
  return layout({
    title: view.title,
    session: view.session,
    wide: true,
    body: html`${view.back ? html`<p><a href="${view.back.href}">← ${view.back.label}</a></p>` : ''}
<h1>${view.title}</h1>
<p class="hint">Newest first. Activity is kept for ${view.retentionDays} days.</p>
<form method="get" action="${view.action}" class="filter">
<label for="activity-type">Show</label>
<select id="activity-type" name="type">
<option value="">Everything</option>
${view.types.map((type) => html`<option value="${type}"${type === view.selectedType ? html` selected` : ''}>${type}</option>`)}
</select>
<button type="submit">Filter</button>
</form>
${
  view.entries.length
    ? html`<ol class="activity">${view.entries.map(
        (entry) => html`<li><time datetime="${new Date(entry.at).toISOString()}">${formatDate(entry.at)}</time> <span>${entry.sentence}</span></li>`,
      )}</ol>`
    : html`<p class="empty">Nothing recorded${view.selectedType ? ' of this kind' : ''} yet.</p>`
}
${view.olderHref ? html`<p><a href="${view.olderHref}">Older activity</a></p>` : ''}`,
  });
}
