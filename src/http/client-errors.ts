import { STATUS_CODES, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Context, Next } from 'koa';
import { isOAuthPath } from './audience.ts';
import { codeForStatus } from './problems.ts';

/**
 * What Node's HTTP parser refuses before any request reaches Koa (an
 * unparsable request line or header, headers past the size limit, a
 * request that took too long, CONNECT), and a target Koa cannot read, is
 * answered here rather than by Node's bare status line or Koa's plain text: the same 4xx Node would send, with the JSON
 * body of the addressed path's clients (the OAuth error under /oauth/, the
 * API's error list elsewhere), and the connection closed.
 */

function statusFor(code: string | undefined): number {
  if (code === 'HPE_HEADER_OVERFLOW') return 431;
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return 408;
  return 400;
}

/** The request target of what the parser saw, when its request line got that far. */
function targetOf(rawPacket: unknown): string {
  if (!Buffer.isBuffer(rawPacket)) return '';
  return /^[A-Za-z-]+ (\S+)/.exec(rawPacket.subarray(0, 2048).toString('latin1'))?.[1] ?? '';
}

/** The body of such a refusal: the OAuth error under /oauth/, the API's error list elsewhere. */
function refusalBody(status: number, target: string): string {
  const reason = STATUS_CODES[status] ?? 'Bad Request';
  return JSON.stringify(isOAuthPath(target) ? { error: 'invalid_request', error_description: reason } : { errors: [{ code: codeForStatus(status), title: reason }] });
}

function answer(socket: Duplex, status: number, target: string, headers: Record<string, string> = {}): void {
  const reason = STATUS_CODES[status] ?? 'Bad Request';
  const body = refusalBody(status, target);
  const lines = [
    `HTTP/1.1 ${status} ${reason}`,
    'Content-Type: application/json; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Cache-Control: no-store',
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
    'Connection: close',
  ];
  socket.end(`${lines.join('\r\n')}\r\n\r\n${body}`);
}

/** Node's 'clientError': the answer Node would give, in the shape of the path's clients. */
export function answerClientError(error: Error & { code?: string; rawPacket?: unknown }, socket: Duplex): void {
  const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (error.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
    socket.destroy();
    return;
  }
  answer(socket, statusFor(error.code), targetOf(error.rawPacket));
}

/** Node's 'connect': no address here is a proxy, so CONNECT gets 405 like any method an address does not take. */
export function refuseConnect(request: IncomingMessage, socket: Duplex): void {
  socket.on('error', () => socket.destroy());
  answer(socket, 405, request.url ?? '', { Allow: '' });
}

/**
 * A request target that Node's parser takes but that is no URL (an
 * absolute-form target with a malformed authority, `http://[::1/x`): Koa
 * cannot tell its path, and every step that asks would fail. It is refused
 * like a parser refusal, first, before anything asks.
 */
export async function refuseUnreadableTarget(ctx: Context, next: Next): Promise<void> {
  try {
    void ctx.path;
  } catch {
    ctx.status = 400;
    ctx.set('Cache-Control', 'no-store');
    ctx.set('Connection', 'close');
    ctx.type = 'application/json';
    ctx.body = refusalBody(400, ctx.url);
    return;
  }
  return next();
}

/** Installs both on a server. */
export function shapeParserRefusals(server: Server): void {
  server.on('clientError', answerClientError);
  server.on('connect', refuseConnect);
}
