import type { Context, Middleware, Next } from 'koa';
import type { Knex } from 'knex';
import { findApp, type App } from '../apps/apps.ts';
import type { Caller, Challenge } from '../credentials/caller.ts';
import { dpopSigningAlgorithms } from '../credentials/dpop.ts';
import type { CallerResolver } from '../credentials/resolve.ts';
import type { Level } from '../permissions/catalog.ts';
import { ApiProblem, ForbiddenProblem } from '../http/problems.ts';

const dpopChallenge = `DPoP realm="appgrant", algs="${dpopSigningAlgorithms.join(' ')}"`;

/** The WWW-Authenticate challenge of a 401 (RFC 6750 §3, RFC 9449 §7.1). */
function challengeHeader({ scheme, error, description }: Challenge): string {
  if (!error) return scheme === 'Basic' ? `Basic realm="appgrant", Bearer realm="appgrant", ${dpopChallenge}` : `${scheme} realm="appgrant"`;
  const base = scheme === 'DPoP' ? dpopChallenge : `${scheme} realm="appgrant"`;
  return `${base}, error="${error}"${description ? `, error_description="${description}"` : ''}`;
}

function unauthorized(challenge: Challenge): ApiProblem {
  return new ApiProblem(401, 'unauthorized', 'Authorization is required', { 'WWW-Authenticate': challengeHeader(challenge) });
}

/** What one protected operation needs: the levels that may call it and the permissions that allow it (any one). */
export interface AccessRule {
  levels: readonly Level[];
  /** Empty: any caller of an allowed level. */
  permissions: readonly string[];
}

export function callerOf(ctx: Context): Caller {
  return ctx.state.caller as Caller;
}

export function appOf(ctx: Context): App {
  return ctx.state.app as App;
}

/** Whether a caller may act on an app it has already been matched to, for this rule's permissions. */
export function holdsAny(caller: Caller, permissions: readonly string[]): boolean {
  return permissions.length === 0 || permissions.some((name) => caller.permissions.has(name));
}

/**
 * The one authorization step every /v2 route starts with: who is calling
 * (401 when nobody provable), may they do this (403 with the fixed body), and
 * for routes under /v2/apps/{appId}, is that app theirs. An account-level
 * caller asking for an app outside its account gets 404, so app ids of other
 * accounts cannot be probed; an app-level caller asking for another app, 403.
 */
export function authorize(resolver: CallerResolver, db: Knex, rule: AccessRule) {
  return async function checkAccess(ctx: Context, next: Next): Promise<void> {
    const appId = ctx.params.appId as string | undefined;
    const presented = {
      authorization: ctx.get('authorization') || undefined,
      dpop: ctx.get('dpop') || undefined,
      method: ctx.method,
      path: ctx.path,
      clientIp: ctx.ip,
    };
    const resolution = await resolver.resolve(presented, appId);
    if (resolution.outcome === 'unauthenticated') throw unauthorized(resolution);
    if (resolution.outcome === 'forbidden') throw new ForbiddenProblem();
    const { caller } = resolution;
    ctx.state.caller = caller;
    if (!rule.levels.includes(caller.level) || !holdsAny(caller, rule.permissions)) throw new ForbiddenProblem();
    if (appId !== undefined) {
      if (caller.level !== 'account' && caller.appId !== appId) throw new ForbiddenProblem();
      const app = resolution.app !== undefined ? resolution.app : await findApp(db, appId);
      if (!app || app.account_id !== caller.accountId) throw new ApiProblem(404, 'app_not_found', 'App not found');
      ctx.state.app = app;
    }
    return next();
  };
}

/** The access step of one route: the levels that may call it and the permissions that allow it (any one). */
export type Guard = (levels: readonly Level[], permissions: readonly string[]) => Middleware;

export function guardFor(resolver: CallerResolver, db: Knex): Guard {
  return (levels, permissions) => authorize(resolver, db, { levels, permissions });
}

export const accountLevel: readonly Level[] = ['account'];
export const appOrAccount: readonly Level[] = ['app', 'account'];
