import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import { Attempt, OutboundFailure } from './attempt.ts';
import { checkedAddress, openConnection } from './sockets.ts';
import { checkTargetUrl, type OutboundPolicy } from './targets.ts';

export { OutboundFailure } from './attempt.ts';
export { OutboundRefusal } from './targets.ts';

export interface OutboundRequest {
  method: 'GET' | 'POST';
  url: string;
  headers: Record<string, string>;
  body?: string;
  /** The whole call: resolving, connecting, TLS, sending and reading the answer. */
  timeoutMs: number;
}

export interface OutboundResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface OutboundOptions extends OutboundPolicy {
  /** An HTTP CONNECT proxy every call goes through. */
  proxyUrl?: string | undefined;
}

/** Answers larger than this are cut off: a call reads a status and a short body, never a download. */
export const maxResponseBytes = 64 * 1024;
const maxResponseHeaderBytes = 16 * 1024;

/** Sends the request on the connected socket and reads the answer, within the size limits; redirects are answers like any other. */
function exchange(socket: Socket, url: URL, request: OutboundRequest, attempt: Attempt): Promise<OutboundResponse> {
  return new Promise((resolve, reject) => {
    const body = request.body ?? '';
    const outgoing = httpRequest({
      createConnection: () => socket,
      method: request.method,
      path: `${url.pathname}${url.search}`,
      setHost: false,
      headers: { ...request.headers, host: url.host, 'content-length': String(Buffer.byteLength(body)) },
      maxHeaderSize: maxResponseHeaderBytes,
      signal: attempt.signal,
    });
    outgoing.once('error', reject);
    outgoing.once('response', (incoming) => {
      const tooLarge = () => incoming.destroy(new OutboundFailure(`the answer was larger than ${maxResponseBytes} bytes`));
      incoming.once('error', reject);
      if (Number(incoming.headers['content-length'] ?? 0) > maxResponseBytes) return tooLarge();
      const chunks: Buffer[] = [];
      let size = 0;
      incoming.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxResponseBytes) return tooLarge();
        chunks.push(chunk);
      });
      incoming.once('end', () => resolve({ status: incoming.statusCode ?? 0, headers: incoming.headers, body: Buffer.concat(chunks) }));
    });
    outgoing.end(body);
  });
}

/**
 * The one way the server calls out over HTTP. Each call checks its URL
 * (scheme, credentials, literal addresses), resolves the host and checks
 * every address, connects to the checked address (directly or through the
 * egress proxy), follows no redirect, and is bounded in time and size. A call
 * the rules forbid throws OutboundRefusal without opening any connection; one
 * that fails on the way throws OutboundFailure.
 */
export class OutboundClient {
  readonly #policy: OutboundPolicy;
  readonly #proxy: URL | undefined;

  constructor(options: OutboundOptions) {
    this.#policy = { httpsOnly: options.httpsOnly, allowPrivateTargets: options.allowPrivateTargets };
    this.#proxy = options.proxyUrl ? new URL(options.proxyUrl) : undefined;
  }

  async send(request: OutboundRequest): Promise<OutboundResponse> {
    const url = checkTargetUrl(request.url, this.#policy);
    const attempt = new Attempt(request.timeoutMs);
    try {
      const address = await checkedAddress(url, this.#policy, attempt);
      const socket = await openConnection(url, address, this.#proxy, attempt);
      return await exchange(socket, url, request, attempt);
    } catch (error) {
      throw attempt.explain(error);
    } finally {
      attempt.end();
    }
  }
}
