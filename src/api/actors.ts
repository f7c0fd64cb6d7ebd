import type { Caller } from '../credentials/caller.ts';
import type { Actor } from '../events/events.ts';

/** Who the audit trail names for an API caller: the partner behind an OAuth token, otherwise the API key. */
export function actorOf(caller: Caller): Actor {
  if (caller.clientId) return { type: 'partner', id: caller.clientId };
  return { type: 'api_key', id: caller.keyId ?? 'unknown' };
}
