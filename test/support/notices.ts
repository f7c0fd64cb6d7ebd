import { createPublicKey, verify, type JsonWebKey } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';

/**
 * A partner's removeUrl: a plain node:http (or https) server on 127.0.0.1
 * or ::1 that records every request and answers from a script (e.g. 500,
 * 500, then 200), so a test can watch appgrant's removal notices arrive, be
 * retried and stop, or be refused before any connection is made.
 */
export interface Answer {
  status: number;
  /** Wait this long before answering (a slow partner). */
  delayMs?: number;
  /** Extra response headers, e.g. a redirect's Location. */
  headers?: Record<string, string>;
  /**
   * A body that never ends: 64 KiB chunks as fast as the peer reads them
   * ('flood'), or one byte every 100 ms ('trickle'), until the peer hangs up.
   */
  endless?: 'flood' | 'trickle';
}

export interface ReceivedNotice {
  /** Date.now() when the request arrived. */
  at: number;
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface NoticeReceiver {
  url: string;
  port: number;
  received: ReceivedNotice[];
  /** TCP connections accepted so far, whether or not a request followed. */
  connections(): number;
  /** Endless answers the peer hung up on, with Date.now() when it did. */
  cutOff: number[];
  /** Resolves once `count` requests have arrived; fails after timeoutMs. */
  waitFor(count: number, timeoutMs?: number): Promise<ReceivedNotice[]>;
  close(): Promise<void>;
}

/** A free port on 127.0.0.1, for a receiver that is down now and listens there later. */
export async function reservePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((done) => server.close(() => done()));
  return port;
}

export interface ReceiverOptions {
  port?: number;
  /** 127.0.0.1 unless told; ::1 for an IPv6 loopback receiver. */
  host?: '127.0.0.1' | '::1';
  answers?: Answer[];
  fallback?: Answer;
  /** Serve https with this certificate (its URL then names localhost). */
  tls?: { key: string; cert: string };
}

function sendEndless(response: ServerResponse, kind: 'flood' | 'trickle', cutOff: number[]): void {
  const chunk = Buffer.alloc(kind === 'flood' ? 64 * 1024 : 1, 'x');
  let timer: NodeJS.Timeout | undefined;
  const push = () => {
    if (response.destroyed) return;
    if (kind === 'trickle') {
      response.write(chunk);
      timer = setTimeout(push, 100);
    } else {
      while (response.write(chunk));
      response.once('drain', push);
    }
  };
  response.once('close', () => {
    clearTimeout(timer);
    cutOff.push(Date.now());
  });
  push();
}

export async function startNoticeReceiver(options: ReceiverOptions = {}): Promise<NoticeReceiver> {
  const answers = [...(options.answers ?? [])];
  const fallback = options.fallback ?? { status: 200 };
  const received: ReceivedNotice[] = [];
  const cutOff: number[] = [];
  const waiters = new Set<() => void>();
  let connections = 0;
  const handle = (request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({
        at: Date.now(),
        method: request.method ?? '',
        path: request.url ?? '',
        headers: request.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      for (const wake of waiters) wake();
      const answer = answers.shift() ?? fallback;
      const respond = () => {
        response.writeHead(answer.status, { 'content-type': 'text/plain', ...answer.headers });
        if (answer.endless) sendEndless(response, answer.endless, cutOff);
        else response.end(answer.status < 300 ? 'thanks' : 'not now');
      };
      if (answer.delayMs) setTimeout(respond, answer.delayMs);
      else respond();
    });
  };
  const server: Server = options.tls ? createTlsServer(options.tls, handle) : createServer(handle);
  server.on('connection', () => (connections += 1));
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(options.port ?? 0, host, done);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: options.tls ? `https://localhost:${port}` : `http://${host === '::1' ? '[::1]' : host}:${port}`,
    port,
    received,
    connections: () => connections,
    cutOff,
    waitFor(count, timeoutMs = 10_000) {
      if (received.length >= count) return Promise.resolve(received.slice());
      return new Promise((done, fail) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          fail(new Error(`expected ${count} notice request(s) within ${timeoutMs} ms, got ${received.length}`));
        }, timeoutMs);
        const check = () => {
          if (received.length < count) return;
          clearTimeout(timer);
          waiters.delete(check);
          done(received.slice());
        };
        waiters.add(check);
      });
    },
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}

export interface NoticeSignature {
  timestamp: number;
  kid: string;
  /** Whether the ES256 signature of "<t>.<body>" verifies with the key named by kid in /oauth/jwks. */
  valid: boolean;
}

/**
 * Checks an `appgrant-signature: t=<unix>,kid=<kid>,es256=<base64url>` header
 * as a partner would: fetch the issuer's JWKS, take the key named by kid and
 * verify the IEEE P1363 ECDSA signature over "<t>.<raw body>".
 */
export async function checkNoticeSignature(issuerUrl: string, header: string | string[] | undefined, body: string): Promise<NoticeSignature> {
  if (typeof header !== 'string') throw new Error(`no appgrant-signature header (${String(header)})`);
  const parts = Object.fromEntries(
    header.split(',').map((part) => {
      const index = part.indexOf('=');
      return [part.slice(0, index).trim(), part.slice(index + 1).trim()];
    }),
  ) as Record<string, string | undefined>;
  const { t, kid, es256 } = parts;
  if (!t || !kid || !es256) throw new Error(`malformed appgrant-signature header: ${header}`);
  const response = await fetch(`${issuerUrl}/oauth/jwks`);
  const jwks = (await response.json()) as { keys: (JsonWebKey & { kid?: string })[] };
  const jwk = jwks.keys.find((key) => key.kid === kid);
  if (!jwk) return { timestamp: Number(t), kid, valid: false };
  const key = createPublicKey({ key: jwk, format: 'jwk' });
  const valid = verify('sha256', Buffer.from(`${t}.${body}`), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(es256, 'base64url'));
  return { timestamp: Number(t), kid, valid };
}

/** Polls `probe` until it returns a truthy value, or fails after timeoutMs. */
export async function eventually<T>(probe: () => Promise<T | undefined | null | false>, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 50));
  }
}
