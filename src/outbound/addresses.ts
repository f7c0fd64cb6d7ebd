import ipaddr from 'ipaddr.js';

/**
 * Which IP addresses an outbound call may reach: public unicast only. Every
 * special-purpose range (RFC 6890 and its IPv6 registry) is refused, not only
 * the private ones, so a range that is added or overlooked fails closed.
 */

/** Cloud instance-metadata endpoints; some sit outside any special range (Azure's is a public address). */
const cloudMetadata = new Set(['169.254.169.254', '169.254.170.2', '168.63.129.16', '100.100.100.200', 'fd00:ec2::254']);

const rangeNames: Record<string, string> = {
  unspecified: 'an unspecified address',
  broadcast: 'a broadcast address',
  multicast: 'a multicast address',
  linkLocal: 'a link-local address',
  loopback: 'a loopback address',
  carrierGradeNat: 'a carrier-grade NAT (shared) address',
  private: 'a private address',
  uniqueLocal: 'a private (unique local) address',
  reserved: 'a reserved or documentation address',
  benchmarking: 'a benchmarking address',
  deprecatedSiteLocal: 'a private (site-local) address',
  discard: 'a discard-only address',
};

const describeRange = (range: string) => rangeNames[range] ?? `a special-purpose address (${range})`;

function refusedIPv4(address: ipaddr.IPv4): string | undefined {
  if (cloudMetadata.has(address.toString())) return 'a cloud metadata address';
  const range = address.range();
  return range === 'unicast' ? undefined : describeRange(range);
}

/** The IPv4 address carried in the last 32 bits of an IPv6 address. */
const lastIPv4 = (address: ipaddr.IPv6) =>
  new ipaddr.IPv4(address.toByteArray().slice(12) as [number, number, number, number]);

function refusedIPv6(address: ipaddr.IPv6): string | undefined {
  if (cloudMetadata.has(address.toString())) return 'a cloud metadata address';
  const range = address.range();
  const parts = address.parts;
  // ::ffff:a.b.c.d and the NAT64 well-known prefix 64:ff9b::/96 reach the IPv4 address they carry.
  const wellKnownNat64 = range === 'rfc6052' && parts[0] === 0x64 && parts[1] === 0xff9b && parts.slice(2, 6).every((part) => part === 0);
  if (range === 'ipv4Mapped' || wellKnownNat64) {
    const embedded = lastIPv4(address);
    const refused = refusedIPv4(embedded);
    return refused && `${range === 'ipv4Mapped' ? 'IPv4-mapped' : 'NAT64'} ${embedded.toString()}, ${refused}`;
  }
  if (range !== 'unicast') return describeRange(range);
  if (parts.slice(0, 6).every((part) => part === 0)) return `IPv4-compatible ${lastIPv4(address).toString()}, a deprecated form`;
  // Global unicast is 2000::/3; nothing outside it is reachable on the Internet.
  if ((parts[0]! & 0xe000) !== 0x2000) return 'outside global unicast (2000::/3)';
  return undefined;
}

/**
 * Why an outbound call must not go to this IP address (a phrase such as "a
 * loopback address"), or undefined when it may. Text that is not an IP
 * address is refused too.
 */
export function refusedAddress(text: string): string | undefined {
  const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  if (!ipaddr.isValid(bare)) return 'not an IP address';
  const address = ipaddr.parse(bare);
  return address.kind() === 'ipv4' ? refusedIPv4(address as ipaddr.IPv4) : refusedIPv6(address as ipaddr.IPv6);
}

/** Whether a URL's hostname is an IP literal rather than a name. */
export function isAddressLiteral(hostname: string): boolean {
  return (hostname.startsWith('[') && hostname.endsWith(']')) || ipaddr.IPv4.isValidFourPartDecimal(hostname);
}
