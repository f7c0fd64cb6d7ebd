import ipaddr from 'ipaddr.js';

type Range = [ipaddr.IPv4 | ipaddr.IPv6, number];

function parseRange(text: string): Range {
  if (text.includes('/')) return ipaddr.parseCIDR(text) as Range;
  const address = ipaddr.parse(text);
  return [address, address.kind() === 'ipv4' ? 32 : 128];
}

/** A CIDR (or a single address) in canonical form, or undefined when it is not one. */
export function normalizeRange(text: string): string | undefined {
  try {
    const [address, bits] = parseRange(text.trim());
    return `${address.toNormalizedString()}/${bits}`;
  } catch {
    return undefined;
  }
}

/** A stored range as people write it: IPv6 in its short form (RFC 5952), so 2001:db8::/32 reads as typed. */
export function displayRange(range: string): string {
  try {
    const [address, bits] = parseRange(range);
    return `${address.kind() === 'ipv6' ? (address as ipaddr.IPv6).toRFC5952String() : address.toString()}/${bits}`;
  } catch {
    return range;
  }
}

/** Whether a client address (IPv4, IPv6 or IPv4-mapped IPv6) falls in any of the ranges. */
export function addressInRanges(address: string, ranges: readonly string[]): boolean {
  if (!ipaddr.isValid(address)) return false;
  // ::ffff:203.0.113.7 is how a dual-stack socket reports an IPv4 client.
  const client = ipaddr.process(address);
  return ranges.some((text) => {
    const range = parseRange(text);
    return client.kind() === range[0].kind() && client.match(range);
  });
}

/** Whether every address of range `inner` lies in range `outer` (both as normalizeRange writes them). */
export function rangeWithin(inner: string, outer: string): boolean {
  const [innerAddress, innerBits] = parseRange(inner);
  const [outerAddress, outerBits] = parseRange(outer);
  return innerAddress.kind() === outerAddress.kind() && innerBits >= outerBits && innerAddress.match([outerAddress, outerBits] as never);
}
