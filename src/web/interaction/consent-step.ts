import type { Context } from 'koa';
import type { Knex } from 'knex';
import type { App } from '../../apps/apps.ts';
import { recordEvent } from '../../events/events.ts';
import { requestOrigin } from '../../http/origin.ts';
import { recordApproval } from '../../oauth/approvals.ts';
import { platformApiResource } from '../../oauth/provider.ts';
import { PageProblem } from '../../http/problems.ts';
import { formList } from '../../http/forms.ts';
import { eligibleApps, finishStep, interactionOf, returnToPartner, requestedPermissions, sessionOwner, type InteractionDependencies } from './interaction.ts';

/** POST …/consent: Deny sends access_denied back; Allow records the approval on the chosen app. */
export function decide(deps: InteractionDependencies) {
  const { db, provider } = deps;
  return async (ctx: Context): Promise<void> => {
    const body = ctx.request.body as Record<string, unknown>;
    const { details, partner } = interactionOf(ctx);
    const owner = await sessionOwner(db, ctx);
    const app = (await eligibleApps(db, owner, partner)).find((candidate) => candidate.id === body.app);
    if (body.decision === 'deny') {
      await recordDenial(db, ctx, owner.id, partner, app);
      return finishStep(provider, ctx, { error: 'access_denied', error_description: 'the app owner denied the request' });
    }
    if (body.decision !== 'allow' || !app) {
      throw new PageProblem(400, 'Choose an app', 'Nothing was allowed: the form named none of your apps. Go back and choose one.', undefined, {}, returnToPartner(ctx, deps.csrf));
    }
    const permissions = grantedPermissions(requestedPermissions(details), partner.optional_permissions, body.leaveOut);
    if (!permissions.length) {
      throw new PageProblem(400, 'Nothing to allow', 'Every permission was left out. Go back and keep at least one, or deny.', undefined, {}, returnToPartner(ctx, deps.csrf));
    }
    const grantId = await recordApproval(db, provider, {
      partnerId: partner.id,
      appId: app.id,
      accountId: owner.id,
      permissions,
      resource: platformApiResource(deps.settings),
      partnerName: partner.name,
      appName: app.display_name,
      origin: requestOrigin(ctx),
    });
    return finishStep(provider, ctx, { consent: { grantId } });
  };
}

/** What Allow grants: what was asked for, less the optional permissions the owner left out (a required one cannot be). */
function grantedPermissions(requested: readonly string[], optional: readonly string[], leftOut: unknown): string[] {
  const out = new Set(formList(leftOut).filter((name) => optional.includes(name)));
  return requested.filter((name) => !out.has(name));
}

/** An owner's Deny, for the audit trail: on which app, when the owner had chosen one. */
async function recordDenial(db: Knex, ctx: Context, accountId: string, partner: { id: string; name: string }, app: App | undefined): Promise<void> {
  await recordEvent(db, {
    type: 'authorization.denied',
    actor: { type: 'owner', id: accountId },
    accountId,
    appId: app?.id,
    partnerId: partner.id,
    target: { type: 'partner', id: partner.id },
    origin: requestOrigin(ctx),
    detail: { partnerName: partner.name, appName: app?.display_name },
  });
}

/** POST …/abort: the owner cancels (or has no app); the partner gets access_denied. */
export function abort({ provider }: InteractionDependencies) {
  return (ctx: Context): Promise<void> =>
    finishStep(provider, ctx, { error: 'access_denied', error_description: 'the app owner cancelled the request' });
}
