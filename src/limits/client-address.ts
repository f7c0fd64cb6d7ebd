import ipaddr from 'ipaddr.js';

/**
 * The subject a client address is counted under. An IPv4 address is one
 * subject (an IPv4-mapped IPv6 address is its IPv4 address); an IPv6 address
 * counts for its whole /64, the block one network is normally given, since
 * anyone holding one address can use all 2^64 of them.
 */
export function addressSubject(address: string): string {
  if (!ipaddr.isValid(address)) return address;
  const parsed = ipaddr.process(address);
  if (parsed.kind() === 'ipv4') return parsed.toString();
  const network = (parsed as ipaddr.IPv6).parts.slice(0, 4);
  return `${new ipaddr.IPv6([...network, 0, 0, 0, 0]).toString()}/64`;
}
