import type { Context, Middleware, Next } from 'koa';
import type { Knex } from 'knex';
import { findApp, type App } from '../apps/apps.ts';
import type { Caller, Challenge } from '../credentials/caller.ts';
import { dpopSigningAlgorithms } from '../credentials/dpop.ts';
import type { CallerResolver } from '../credentials/resolve.ts';
import type { Level } from '../permissions/catalog.ts';
import { ApiProblem, ForbiddenProblem, type ForbiddenReason } from '../http/problems.ts';
import { looksLikeJwt } from '../credentials/jwt.ts';

/**
 * The authorization decision of one request, left on ctx.state.access for
 * the server's metrics: which kind of credential, allowed or not, and why.
 */
export interface AccessOutcome {
  credential: 'none' | 'basic' | 'jwt' | 'bearer' | 'dpop';
  outcome: 'allowed' | 'unauthorized' | 'forbidden';
  reason: ForbiddenReason | 'missing' | 'invalid' | 'none';
}

function credentialKind(authorization: string): AccessOutcome['credential'] {
  const [scheme = '', value = ''] = authorization.trim().split(/ +/);
  if (/^basic$/i.test(scheme)) return 'basic';
  if (/^bearer$/i.test(scheme)) return looksLikeJwt(value) ? 'jwt' : 'bearer';
  if (/^dpop$/i.test(scheme)) return 'dpop';
  return 'none';
}

function decided(ctx: Context, outcome: AccessOutcome['outcome'], reason: AccessOutcome['reason']): void {
  ctx.state.access = { credential: credentialKind(ctx.get('authorization')), outcome, reason } satisfies AccessOutcome;
}

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
 * The decision is left on the request (AccessOutcome), including a 403 that
 * a later step of the route refuses with.
 */
export function authorize(resolver: CallerResolver, db: Knex, rule: AccessRule) {
  async function decide(ctx: Context): Promise<void> {
    const appId = ctx.params.appId as string | undefined;
    const presented = {
      authorization: ctx.get('authorization') || undefined,
      dpop: ctx.get('dpop') || undefined,
      method: ctx.method,
      path: ctx.path,
      clientIp: ctx.ip,
    };
    const resolution = await resolver.resolve(presented, appId);
    if (resolution.outcome === 'unauthenticated') {
      decided(ctx, 'unauthorized', presented.authorization ? 'invalid' : 'missing');
      throw unauthorized(resolution);
    }
    if (resolution.outcome === 'forbidden') throw new ForbiddenProblem(resolution.reason);
    const { caller } = resolution;
    ctx.state.caller = caller;
    if (!rule.levels.includes(caller.level)) throw new ForbiddenProblem('level');
    if (!holdsAny(caller, rule.permissions)) throw new ForbiddenProblem('permission');
    if (appId !== undefined) {
      if (caller.level !== 'account' && caller.appId !== appId) throw new ForbiddenProblem('other_app');
      const app = resolution.app !== undefined ? resolution.app : await findApp(db, appId);
      if (!app || app.account_id !== caller.accountId) throw new ApiProblem(404, 'app_not_found', 'App not found');
      ctx.state.app = app;
    }
    decided(ctx, 'allowed', 'none');
  }

  async function checkAccess(ctx: Context, next: Next): Promise<void> {
    try {
      await decide(ctx);
      await next();
    } catch (error) {
      if (error instanceof ForbiddenProblem) decided(ctx, 'forbidden', error.reason);
      throw error;
    }
  }
  // The rule stays readable on the step, so the API's description can be checked against what the routes enforce.
  return Object.assign(checkAccess, { accessRule: rule });
}

/** The access step of one route: the levels that may call it and the permissions that allow it (any one). */
export type Guard = (levels: readonly Level[], permissions: readonly string[]) => Middleware;

export function guardFor(resolver: CallerResolver, db: Knex): Guard {
  return (levels, permissions) => authorize(resolver, db, { levels, permissions });
}

export const accountLevel: readonly Level[] = ['account'];
export const appOrAccount: readonly Level[] = ['app', 'account'];
