import ipaddr from 'ipaddr.js';
import type { Context, Next } from 'koa';

/**
 * Which peers are proxies, as the TRUST_PROXY setting reads (README,
 * Configuration): none, the nearest N hops, or the proxies' CIDRs in
 * canonical form. The setting is parsed in config; this layer only takes
 * its shape.
 */
export type ProxyTrust = { kind: 'none' } | { kind: 'hops'; hops: number } | { kind: 'ranges'; ranges: readonly string[] };

/**
 * An address as it is compared and recorded: IPv4-mapped IPv6 (how a
 * dual-stack socket reports an IPv4 peer) as its IPv4 address, IPv6 in
 * canonical form. A forwarded entry may carry a port ("203.0.113.7:5123",
 * "[2001:db8::1]:443"), which is dropped. Undefined when it is no address.
 */
export function normalizeAddress(text: string): string | undefined {
  const trimmed = text.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(trimmed);
  const withPort = /^([\d.]+):\d+$/.exec(trimmed);
  const bare = bracketed?.[1] ?? withPort?.[1] ?? trimmed;
  if (!ipaddr.isValid(bare)) return undefined;
  if (!bare.includes(':') && !ipaddr.IPv4.isValidFourPartDecimal(bare)) return undefined;
  return ipaddr.process(bare).toString();
}

function inRanges(address: string, ranges: readonly string[]): boolean {
  const parsed = ipaddr.parse(address);
  return ranges.some((range) => {
    const cidr = ipaddr.parseCIDR(range);
    return parsed.kind() === cidr[0].kind() && parsed.match(cidr);
  });
}

/**
 * The client's address: the socket's peer, unless the peer is a trusted
 * proxy, in which case X-Forwarded-For is read from the right (each proxy
 * appends the address it saw) and the first address that is not a trusted
 * proxy is the client. Entries left of it were written by the client itself
 * and are never believed. With `hops`, the nearest N addresses are proxies;
 * with `ranges`, an address is a proxy when it falls in one of them.
 */
export function clientAddress(peer: string, forwardedFor: string | undefined, trust: ProxyTrust): string {
  let client = normalizeAddress(peer) ?? peer;
  if (trust.kind === 'none' || !forwardedFor) return client;
  const nearestFirst = forwardedFor.split(',').reverse();
  for (const [index, entry] of nearestFirst.entries()) {
    const isProxy = trust.kind === 'hops' ? index < trust.hops : ipaddr.isValid(client) && inRanges(client, trust.ranges);
    if (!isProxy) break;
    const address = normalizeAddress(entry);
    // A malformed entry ends the chain: the last proxy's own address stands in for the client.
    if (!address) break;
    client = address;
  }
  return client;
}

/** Whether the peer may speak for the client in X-Forwarded-* headers. */
function peerIsProxy(peer: string, trust: ProxyTrust): boolean {
  if (trust.kind !== 'ranges') return trust.kind === 'hops';
  const address = normalizeAddress(peer);
  return address !== undefined && inRanges(address, trust.ranges);
}

const forwardedHeaders = ['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host'];

/**
 * The first step of every request: ctx.ip becomes the client's address
 * (clientAddress above), which every later step reads, the key allowed-IP
 * check, the login throttle, the OAuth engine and the request log alike.
 * A peer that is not a trusted proxy has its X-Forwarded-* headers removed,
 * so nothing later (https detection for Secure cookies, the engine) can be
 * told a protocol or host by a client that reached the server directly.
 */
export function resolveClientAddress(trust: ProxyTrust) {
  return function clientAddressStep(ctx: Context, next: Next): Promise<void> {
    const peer = ctx.req.socket.remoteAddress ?? '';
    if (!peerIsProxy(peer, trust)) for (const header of forwardedHeaders) delete ctx.req.headers[header];
    ctx.request.ip = clientAddress(peer, ctx.get('x-forwarded-for') || undefined, trust);
    return next();
  };
}
