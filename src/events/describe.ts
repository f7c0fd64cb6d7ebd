import type { StoredEvent } from './events.ts';

/** Who reads the sentence: "you" is the owner (account) or the partner reading it. */
export interface Reader {
  accountId?: string | undefined;
  partnerId?: string | undefined;
}

const removalCauses: Record<string, string> = {
  owner: 'by the owner',
  partner: 'by the partner',
  partner_revoke: 'when the partner revoked one of its tokens',
  code_replay: 'because an authorization code was used twice',
  refresh_replay: 'because a refresh token was used again after it had been replaced',
  app_deleted: 'because the app was deleted',
  operator: 'by the platform operator',
  partner_deleted: 'because the integration was deleted',
};

const detailText = (event: StoredEvent, name: string) => {
  const value = event.detail[name];
  return typeof value === 'string' ? value : undefined;
};

/**
 * One event in plain words for the dashboard and the portal, e.g. "HelpDesk
 * Pro was removed by you from Acme Support" or "Key 'CI deploy' refused:
 * 198.51.100.4 is outside its allowed ranges". Names are the ones recorded
 * with the event, so a sentence still reads after the thing was deleted.
 */
export function describeEvent(event: StoredEvent, reader: Reader): string {
  const partner = detailText(event, 'partnerName') ?? event.partner_id ?? 'An integration';
  const app = detailText(event, 'appName') ?? event.app_id ?? 'an app';
  const key = `Key '${detailText(event, 'keyName') ?? event.target_id ?? ''}'`;
  const byReader = (event.actor_type === 'owner' && event.actor_id === reader.accountId) || (event.actor_type === 'partner' && event.actor_id === reader.partnerId);
  const who = byReader ? 'you' : event.actor_type === 'operator' ? 'the platform operator' : event.actor_type === 'owner' ? 'the owner' : event.actor_type === 'partner' ? 'the partner' : 'appgrant';
  const permissions = (event.detail.permissions as string[] | undefined)?.join(', ');
  switch (event.type) {
    case 'owner.login_succeeded':
      return `Signed in${event.client_ip ? ` from ${event.client_ip}` : ''}`;
    case 'owner.login_failed':
      return `A sign-in failed: wrong password${event.client_ip ? ` (from ${event.client_ip})` : ''}`;
    case 'owner.login_throttled':
      return `Sign-ins were paused after too many failures${event.client_ip ? ` (from ${event.client_ip})` : ''}`;
    case 'owner.logged_out':
      return 'Signed out';
    case 'authorization.approved':
      return `${partner} was allowed on ${app} by ${who}${permissions ? ` (${permissions})` : ''}`;
    case 'authorization.updated':
      return `${partner}'s access to ${app} was changed by ${who}${permissions ? ` to ${permissions}` : ''}`;
    case 'authorization.denied':
      return `${partner} was denied access to ${app} by ${who}`;
    case 'authorization.removed': {
      const cause = event.cause === 'owner' && byReader ? 'by you' : (removalCauses[event.cause ?? ''] ?? 'for another reason');
      return `${partner} was removed ${cause} from ${app}`;
    }
    case 'authorization.more_access_declined':
      return `${who === 'you' ? 'You' : 'The owner'} declined ${partner}'s request for more access to ${app}${permissions ? ` (${permissions})` : ''}`;
    case 'authorization.tokens_revoked':
      return `Every token ${partner} held for ${app} was revoked${event.cause ? ` (${event.cause.replaceAll('_', ' ')})` : ''}`;
    case 'key.created':
      return `${key} was created on ${app} by ${who}`;
    case 'key.revoked':
      return `${key} was revoked by ${who}`;
    case 'key.refused_expired':
      return `${key} refused: it has expired`;
    case 'key.refused_address':
      return `${key} refused: ${event.client_ip ?? 'the caller'} is outside its allowed ranges`;
    case 'notice.delivered':
      return `A notice to ${partner} about ${app} was delivered`;
    case 'notice.failed':
      return `A notice to ${partner} about ${app} could not be delivered and was given up`;
    case 'notice.redelivered':
      return `A notice to ${partner}${event.app_id ? ` about ${app}` : ''} was queued again by ${who}`;
    case 'signing_key.rotated':
      return 'A new signing key was introduced';
    case 'signing_key.retired':
      return 'A signing key was retired';
    case 'operator.command':
      return `The platform operator ran "${detailText(event, 'command') ?? 'a command'}"`;
    default:
      return describePartnerChange(event, partner, who);
  }
}

/** A change to a partner's registration, in words. */
function describePartnerChange(event: StoredEvent, partner: string, who: string): string {
  const fields = (name: string) => ((event.detail[name] as string[] | undefined) ?? []).join(', ');
  switch (event.type) {
    case 'partner.registered':
      return `${partner} was registered by ${who}`;
    case 'partner.approved':
      return `${partner} was approved by the platform operator${fields('applied') ? `, with its changes to ${fields('applied')}` : ''}`;
    case 'partner.secret_rotated':
      return `${partner}'s client secret was rotated by ${who}`;
    case 'partner.redirect_urls_changed':
      return `${partner}'s redirect URLs were changed by ${who}`;
    case 'partner.suspended':
      return `${partner} was suspended by the platform operator: none of its tokens works until it is resumed`;
    case 'partner.resumed':
      return `${partner} was resumed by the platform operator: its tokens work again`;
    case 'partner.updated':
      return `${partner} was edited by ${who}${fields('fields') ? ` (${fields('fields')})` : ''}${fields('awaitingReview') ? `; waiting for review: ${fields('awaitingReview')}` : ''}`;
    case 'partner.deleted':
      return `${partner} was deleted by ${who}`;
    default:
      return event.type;
  }
}
