import type { Context, Next } from 'koa';
import type { Knex } from 'knex';
import type { Settings } from '../../config/settings.ts';
import type { PasswordLogin } from '../../accounts/password-login.ts';
import { findApp, type App } from '../../apps/apps.ts';
import type { SecretBox } from '../../keys/secret-box.ts';
import type { KeyEvents } from '../../credentials/api-keys.ts';
import type { CsrfGuard } from '../../http/csrf.ts';
import type { PageFlashes } from '../page-flashes.ts';
import { PageProblem } from '../../http/problems.ts';
import { ownerOf, type OwnerSessions } from '../owner-sessions.ts';

export interface DashboardDependencies {
  db: Knex;
  settings: Settings;
  login: PasswordLogin;
  csrf: CsrfGuard;
  sessions: OwnerSessions;
  box: SecretBox;
  /** Told of keys created and revoked (the server's metrics). */
  keyEvents: KeyEvents;
  /** What a page shows once after a form redirected to it. */
  flashes: PageFlashes;
}

/** Loads the owner's app named in the path; another owner's app is simply not found. */
export function ownApp(db: Knex) {
  return async (ctx: Context, next: Next): Promise<void> => {
    const app = await findApp(db, ctx.params.appId as string);
    if (!app || app.account_id !== ownerOf(ctx).id) throw new PageProblem(404, 'App not found', 'There is no such app in your account.');
    ctx.state.app = app;
    return next();
  };
}

export function pageApp(ctx: Context): App {
  return ctx.state.app as App;
}
