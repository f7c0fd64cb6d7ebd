import { isIPv6 } from 'node:net';
import type { Context, Next } from 'koa';
import { ApiOrPageProblem, ApiProblem, PageProblem } from './problems.ts';

/** A host name or IPv4 address, or an IPv6 literal in brackets; then an optional port. */
const hostField = /^(?:(?<name>[A-Za-z0-9._~-]+)|\[(?<ipv6>[0-9A-Fa-f:.]+)\])(?::(?<port>\d{0,5}))?$/;

/** Whether a Host field value is a well-formed host and optional port (RFC 9110 §7.2, RFC 3986 §3.2.2). */
export function isWellFormedHost(value: string): boolean {
  const groups = hostField.exec(value)?.groups;
  if (!groups) return false;
  if (groups.ipv6 !== undefined && !isIPv6(groups.ipv6)) return false;
  return !groups.port || Number(groups.port) <= 65535;
}

/**
 * A request whose Host field is present but not a host (`[::1`, userinfo,
 * spaces, an empty value) is refused with 400, as RFC 9112 §3.2 requires,
 * before anything could build a URL from it. Nothing here builds URLs from
 * the Host anyway (they come from ISSUER); this keeps malformed values from
 * reaching the libraries that would try. A request without the field (HTTP/1.0)
 * passes: Node already refuses one over HTTP/1.1.
 */
export async function refuseMalformedHost(ctx: Context, next: Next): Promise<void> {
  const host = ctx.req.headers.host;
  if (host !== undefined && !isWellFormedHost(host)) {
    throw new ApiOrPageProblem(
      new ApiProblem(400, 'bad_request', 'The Host header is malformed'),
      new PageProblem(400, 'This request cannot be completed', 'The address this request was sent to is malformed.'),
    );
  }
  return next();
}
