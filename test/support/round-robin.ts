import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A load balancer in front of several appgrant instances: each request goes
 * to the next instance in turn, so the steps of one flow (authorize, log in,
 * consent, exchange, use the token) land on different instances. The Host
 * header passes through, so the instances see the issuer's address.
 */
export interface RoundRobin {
  url: string;
  /** The instances to send to; replaceable while running. */
  targets: string[];
  close(): Promise<void>;
}

export async function startRoundRobin(targets: string[] = []): Promise<RoundRobin> {
  let turn = 0;
  const balancer: RoundRobin = { url: '', targets, close: async () => undefined };
  const server: Server = createServer((incoming, outgoing) => {
    const target = new URL(balancer.targets[turn++ % balancer.targets.length]!);
    const forwarded = request(
      { host: target.hostname, port: target.port, method: incoming.method, path: incoming.url, headers: incoming.headers },
      (answer) => {
        outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(outgoing);
      },
    );
    forwarded.on('error', () => {
      if (!outgoing.headersSent) outgoing.writeHead(502);
      outgoing.end();
    });
    incoming.pipe(forwarded);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  balancer.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  balancer.close = () =>
    new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return balancer;
}
