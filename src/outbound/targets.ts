import { isAddressLiteral, refusedAddress } from './addresses.ts';

/** What an outbound call may reach. */
export interface OutboundPolicy {
  /** Only https URLs (production). */
  httpsOnly: boolean;
  /** Loopback, private and other special addresses too: development and tests only, never production. */
  allowPrivateTargets: boolean;
}

export function outboundPolicy(settings: { production: boolean; OUTBOUND_ALLOW_PRIVATE_TARGETS: boolean }): OutboundPolicy {
  return { httpsOnly: settings.production, allowPrivateTargets: settings.OUTBOUND_ALLOW_PRIVATE_TARGETS && !settings.production };
}

/** A call the rules forbid: never sent, and retrying will not help. */
export class OutboundRefusal extends Error {}

/**
 * Names that only ever mean this machine or a private network (RFC 6761
 * localhost, RFC 6762 .local, RFC 8375 .home.arpa, the .internal private-use
 * TLD with its cloud metadata hosts) and single-label names, which resolve
 * only through local search domains.
 */
function refusedName(hostname: string): string | undefined {
  const name = hostname.toLowerCase().replace(/\.$/, '');
  if (name === 'localhost' || name.endsWith('.localhost')) return 'a loopback name';
  if (/\.(local|internal|home\.arpa)$/.test(name) || name === 'internal') return 'a private-network name';
  if (!name.includes('.')) return 'a single-label name, which resolves only on a local network';
  return undefined;
}

/**
 * The URL an outbound call goes to, parsed the way WHATWG URL does (so
 * 2130706433, 0x7f.1 and 017700000001 are all read as 127.0.0.1), or an
 * OutboundRefusal naming the rule it breaks: http(s) only, https in
 * production, no credentials, and no IP literal outside public unicast.
 * A host name is resolved and checked when the call is made.
 */
export function checkTargetUrl(text: string, policy: OutboundPolicy): URL {
  if (!URL.canParse(text)) throw new OutboundRefusal('not an absolute URL');
  const url = new URL(text);
  if (url.protocol !== 'https:' && (policy.httpsOnly || url.protocol !== 'http:')) {
    throw new OutboundRefusal(policy.httpsOnly ? 'must use https' : 'must use http or https');
  }
  if (url.username || url.password) throw new OutboundRefusal('must not contain credentials');
  if (!policy.allowPrivateTargets && isAddressLiteral(url.hostname)) {
    const refused = refusedAddress(url.hostname);
    if (refused) throw new OutboundRefusal(`${url.hostname} is ${refused}`);
  }
  return url;
}

/**
 * A URL as it may be registered for later calls: the checks above, and no
 * name that can only point inside (localhost, .internal, a single label).
 */
export function checkRegisteredTargetUrl(text: string, policy: OutboundPolicy): URL {
  const url = checkTargetUrl(text, policy);
  if (!policy.allowPrivateTargets && !isAddressLiteral(url.hostname)) {
    const refused = refusedName(url.hostname);
    if (refused) throw new OutboundRefusal(`${url.hostname} is ${refused}`);
  }
  return url;
}
