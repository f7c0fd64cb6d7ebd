import { connect, createServer, isIP, type AddressInfo, type Socket } from 'node:net';

/**
 * An egress proxy for the tests: a tiny HTTP CONNECT proxy on 127.0.0.1
 * that records every tunnel asked of it and opens tunnels only to loopback
 * (anything else is answered 403), so no test traffic leaves the machine.
 */
export interface ProxiedTunnel {
  /** The CONNECT target, as sent: host:port. */
  target: string;
  headers: Record<string, string>;
}

export interface ConnectProxy {
  url: string;
  port: number;
  tunnels: ProxiedTunnel[];
  /** Answers CONNECT to these ports with 403 instead of opening a tunnel. */
  refusePorts: Set<number>;
  close(): Promise<void>;
}

function readHead(socket: Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    let head = '';
    const onData = (chunk: Buffer) => {
      head += chunk.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      resolve(head.slice(0, end));
    };
    socket.on('data', onData).once('error', reject);
  });
}

export async function startConnectProxy(): Promise<ConnectProxy> {
  const tunnels: ProxiedTunnel[] = [];
  const refusePorts = new Set<number>();
  const sockets = new Set<Socket>();
  const server = createServer(async (client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client)).on('error', () => client.destroy());
    const [requestLine = '', ...lines] = (await readHead(client)).split('\r\n');
    const [method, target = ''] = requestLine.split(' ');
    const headers = Object.fromEntries(lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
    tunnels.push({ target, headers });
    const separator = target.lastIndexOf(':');
    const host = target.slice(0, separator).replace(/^\[|\]$/g, '');
    const port = Number(target.slice(separator + 1));
    const loopback = host === '127.0.0.1' || host === '::1';
    if (method !== 'CONNECT' || !isIP(host) || !loopback || refusePorts.has(port)) {
      client.end('HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    const upstream = connect({ host, port }, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream)).on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    tunnels,
    refusePorts,
    close: () =>
      new Promise<void>((done) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => done());
      }),
  };
}
