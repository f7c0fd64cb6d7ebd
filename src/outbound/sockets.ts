import { lookup } from 'node:dns/promises';
import { connect, isIP, isIPv6, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { refusedAddress } from './addresses.ts';
import { Attempt, OutboundFailure } from './attempt.ts';
import { OutboundRefusal, type OutboundPolicy } from './targets.ts';

const bare = (hostname: string) => (hostname.startsWith('[') ? hostname.slice(1, -1) : hostname);

/**
 * The one address the call will connect to. The name is resolved here, every
 * address it has is checked (one refused address refuses the name, so a
 * round-robin answer cannot slip a private address in), and the connection
 * then goes to that address itself: nothing is resolved again between the
 * check and the connect, which leaves no room for DNS rebinding.
 */
export async function checkedAddress(url: URL, policy: OutboundPolicy, attempt: Attempt): Promise<string> {
  const host = bare(url.hostname);
  let addresses: string[];
  if (isIP(host)) addresses = [host];
  else {
    try {
      addresses = (await attempt.within(lookup(host, { all: true, order: 'verbatim' }))).map((entry) => entry.address);
    } catch (error) {
      if (attempt.signal.aborted) throw error;
      throw new OutboundFailure(`cannot resolve ${host} (${(error as NodeJS.ErrnoException).code ?? 'lookup failed'})`);
    }
  }
  if (!policy.allowPrivateTargets) {
    for (const address of addresses) {
      const refused = refusedAddress(address);
      if (refused) throw new OutboundRefusal(address === host ? `${host} is ${refused}` : `${host} resolves to ${address}, ${refused}`);
    }
  }
  const [first] = addresses;
  if (!first) throw new OutboundFailure(`cannot resolve ${host} (no address)`);
  return first;
}

function opened<T extends Socket>(socket: T, event: 'connect' | 'secureConnect'): Promise<T> {
  return new Promise((resolve, reject) => {
    const closed = () => reject(new OutboundFailure('connection closed'));
    socket.once('error', reject).once('close', closed).once(event, () => {
      socket.off('error', reject).off('close', closed);
      resolve(socket);
    });
  });
}

const withPort = (host: string, port: number) => `${isIPv6(host) ? `[${host}]` : host}:${port}`;

/** Reads the proxy's answer to CONNECT (status line and headers, at most 8 KiB) and returns its status. */
function proxyAnswer(socket: Socket): Promise<number> {
  return new Promise((resolve, reject) => {
    let received = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const end = received.indexOf('\r\n\r\n');
      if (end < 0) {
        if (received.length > 8192) finish(new OutboundFailure('the egress proxy sent an oversized answer'));
        return;
      }
      // Neither HTTP nor TLS lets the far end speak first: anything past the headers is not a tunnel.
      if (received.length > end + 4) return finish(new OutboundFailure('the egress proxy sent data before the tunnel opened'));
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(received.subarray(0, end).toString('latin1'));
      if (status) finish(undefined, Number(status[1]));
      else finish(new OutboundFailure('the egress proxy sent a malformed answer'));
    };
    const onEnd = () => finish(new OutboundFailure('the egress proxy closed the connection'));
    const finish = (error: Error | undefined, status?: number) => {
      socket.off('data', onData).off('error', finish).off('close', onEnd);
      if (error) reject(error);
      else resolve(status!);
    };
    socket.on('data', onData).once('error', finish).once('close', onEnd);
  });
}

/** A connection through an HTTP CONNECT proxy to the checked address (never the name, so the proxy cannot re-resolve it). */
async function tunnel(proxy: URL, address: string, port: number, attempt: Attempt): Promise<Socket> {
  const socket = await opened(attempt.track(connect({ host: bare(proxy.hostname), port: Number(proxy.port) || 80 })), 'connect');
  const authority = withPort(address, port);
  const credentials = proxy.username
    ? `Proxy-Authorization: Basic ${Buffer.from(`${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`).toString('base64')}\r\n`
    : '';
  socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n${credentials}\r\n`);
  const status = await proxyAnswer(socket);
  if (status !== 200) throw new OutboundFailure(`the egress proxy refused the connection (HTTP ${status})`);
  return socket;
}

/**
 * A connected socket to the checked address, directly or through the egress
 * proxy, with TLS for https (the certificate checked against the URL's host).
 */
export async function openConnection(url: URL, address: string, proxy: URL | undefined, attempt: Attempt): Promise<Socket> {
  const https = url.protocol === 'https:';
  const port = Number(url.port) || (https ? 443 : 80);
  const socket = proxy
    ? await tunnel(proxy, address, port, attempt)
    : await opened(attempt.track(connect({ host: address, port })), 'connect');
  if (!https) return socket;
  const host = bare(url.hostname);
  return opened(
    attempt.track(connectTls({ socket, host, ...(isIP(host) ? {} : { servername: host }), ALPNProtocols: ['http/1.1'] })),
    'secureConnect',
  );
}
