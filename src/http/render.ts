import type { Context } from 'koa';
import { loginPage } from '../../views/login.ts';
import { errorPage } from '../../views/error.ts';
import { appPickerPage, noAppsPage } from '../../views/app-picker.ts';
import { consentPage } from '../../views/consent.ts';
import { appPage, dashboardPage } from '../../views/dashboard.ts';
import { partnerPage, portalPage } from '../../views/partners.ts';
import { activityPage } from '../../views/activity.ts';
import { noticeLogPage } from '../../views/notice-log.ts';
import { confirmPage } from '../../views/confirm.ts';
import { installationsPage } from '../../views/installations.ts';
import { partnerEditPage } from '../../views/partner-edit.ts';
import { accessPage } from '../../views/access.ts';
import { setPageHeaders } from './page-headers.ts';
import type { Html } from '../../views/html.ts';

/** Every page the server renders, by name, with the data it needs. */
export const pages = { loginPage, errorPage, appPickerPage, noAppsPage, consentPage, dashboardPage, appPage, portalPage, partnerPage, activityPage, noticeLogPage, confirmPage, installationsPage, partnerEditPage, accessPage } satisfies Record<string, (view: never) => Html>;

export type PageName = keyof typeof pages;

export function renderPage<Name extends PageName>(ctx: Context, status: number, name: Name, view: Parameters<(typeof pages)[Name]>[0]): void {
  const page = pages[name] as (view: Parameters<(typeof pages)[Name]>[0]) => Html;
  ctx.status = status;
  ctx.type = 'html';
  setPageHeaders(ctx);
  ctx.body = page(view).value;
}

type LayoutSession = { email: string; csrfToken: string };

/**
 * The signed-in owner a dashboard or portal page shows (navigation, logout),
 * kept for the request so that an error page rendered by the boundary keeps
 * the navigation too.
 */
export function rememberLayoutSession(ctx: Context, session: LayoutSession): void {
  ctx.state.layoutSession = session;
}

export function layoutSessionOf(ctx: Context): LayoutSession | undefined {
  return ctx.state.layoutSession as LayoutSession | undefined;
}
