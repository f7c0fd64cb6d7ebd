import type { IncomingMessage } from 'node:http';
import { Readable, type Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import type { Context, Next } from 'koa';
import { ApiOrPageProblem, ApiProblem, codeForStatus, PageProblem } from './problems.ts';

/**
 * Request bodies are read here and only here: decoded (Content-Encoding),
 * bounded in size after decoding, and JSON bounded in depth, before any
 * parser or handler sees them. Each refusal is a 4xx in the shape of the
 * route (the boundary picks it): a body never costs more than its limit, and
 * a malformed one never reaches code that would fail on it with a 5xx.
 */

/** How deep a JSON body may nest; the deepest body any route takes has three levels. */
export const maxJsonDepth = 32;

const decoders: Readonly<Record<string, () => Transform>> = {
  gzip: createGunzip,
  'x-gzip': createGunzip,
  deflate: createInflate,
  br: createBrotliDecompress,
};

function refusal(status: 400 | 413 | 415, title: string, message: string): ApiOrPageProblem {
  // The rest of a refused body is never read: the connection closes with the answer.
  const headers = { Connection: 'close' };
  return new ApiOrPageProblem(
    new ApiProblem(status, codeForStatus(status), title, headers),
    new PageProblem(status, 'This request cannot be completed', message, undefined, headers),
  );
}

const tooLarge = () => refusal(413, 'The request body is too large', 'What was sent is larger than this address accepts.');
const unreadable = () => refusal(400, 'The request body could not be decoded', 'What was sent could not be read.');

/** The decoder of a Content-Encoding, undefined for none; an unknown or stacked coding is refused with 415. */
function decoderFor(contentEncoding: string): Transform | undefined {
  const coding = contentEncoding.trim().toLowerCase();
  if (coding === '' || coding === 'identity') return undefined;
  const decoder = decoders[coding];
  if (!decoder) throw refusal(415, 'Unsupported Content-Encoding', 'What was sent is encoded in a way this address does not accept.');
  return decoder();
}

/** The body as it arrives or as it decodes; a client that goes away ends the decoding with an error. */
function decodedStream(request: IncomingMessage, decoder: Transform | undefined): AsyncIterable<Buffer> {
  if (!decoder) return request.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>;
  const abort = () => decoder.destroy(new Error('request aborted'));
  request.on('error', abort);
  request.on('close', () => {
    if (!request.complete) abort();
  });
  request.pipe(decoder);
  return decoder;
}

/**
 * How deep a JSON text nests, counted byte by byte as it arrives, without
 * parsing it (so without recursion). UTF-8 never encodes another character
 * with the bytes of a bracket, a quote or a backslash.
 */
export class JsonDepthGauge {
  readonly #limit: number;
  #depth = 0;
  #inString = false;
  #escaped = false;

  constructor(limit: number) {
    this.#limit = limit;
  }

  /** Reads the next bytes; false once the text has nested deeper than the limit. */
  feed(bytes: Uint8Array): boolean {
    for (const byte of bytes) {
      if (this.#inString) {
        if (this.#escaped) this.#escaped = false;
        else if (byte === 0x5c) this.#escaped = true;
        else if (byte === 0x22) this.#inString = false;
      } else if (byte === 0x22) this.#inString = true;
      else if (byte === 0x5b || byte === 0x7b) {
        this.#depth += 1;
        if (this.#depth > this.#limit) return false;
      } else if (byte === 0x5d || byte === 0x7d) this.#depth -= 1;
    }
    return true;
  }
}

const tooDeep = () => refusal(400, `The JSON body nests deeper than ${maxJsonDepth} levels`, 'What was sent is nested too deeply.');

/**
 * The request's body, decoded, or a refusal: 415 for an unknown coding, 400
 * for one that does not decode (or a body cut short), 413 as soon as the
 * body, as sent or as decoded, passes `limitBytes`, whatever its framing
 * (Content-Length, chunked, compressed). A JSON body (`json`) is refused
 * with 400 as soon as it nests deeper than maxJsonDepth, whatever its
 * length: that is what is wrong with it.
 */
export async function readRequestBody(ctx: Context, limitBytes: number, { json = false } = {}): Promise<Buffer> {
  const decoder = decoderFor(ctx.get('content-encoding'));
  const depth = json ? new JsonDepthGauge(maxJsonDepth) : undefined;
  if (!depth && ctx.request.length !== undefined && ctx.request.length > limitBytes) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  let deep = false;
  try {
    for await (const chunk of decodedStream(ctx.req, decoder)) {
      size += chunk.length;
      deep = depth?.feed(chunk) === false;
      if (deep || size > limitBytes) break;
      chunks.push(chunk);
    }
  } catch {
    throw unreadable();
  } finally {
    if (decoder) {
      // What is still arriving is dropped: the answer closes the connection.
      ctx.req.unpipe(decoder);
      decoder.on('error', () => {});
      decoder.destroy();
    }
  }
  if (deep) throw tooDeep();
  if (size > limitBytes) throw tooLarge();
  return Buffer.concat(chunks, size);
}

/**
 * Gives a later reader (a body parser, the OAuth engine) a stand-in request
 * that carries `body`, as plain bytes of `contentType`. It is a plain stream
 * with the request's fields, not a second IncomingMessage, which would take
 * over (and close) the socket.
 */
export function replayBody(ctx: Context, body: Buffer, contentType: string): void {
  const original = ctx.req;
  const stream = new Readable({ read() {} });
  stream.push(body);
  stream.push(null);
  const headers = { ...original.headers, 'content-type': contentType, 'content-length': String(body.length) };
  delete headers['content-encoding'];
  delete headers['transfer-encoding'];
  const replay = Object.assign(stream, {
    method: original.method,
    url: original.url,
    httpVersion: original.httpVersion,
    httpVersionMajor: original.httpVersionMajor,
    httpVersionMinor: original.httpVersionMinor,
    socket: original.socket,
    connection: original.socket,
    headers,
  }) as unknown as IncomingMessage;
  ctx.req = replay;
  ctx.request.req = replay;
}

export interface BodyLimits {
  /** For application/json bodies. */
  jsonBytes: number;
  /** For application/x-www-form-urlencoded bodies. */
  formBytes: number;
}

/** What the body parser reads as JSON (its own list, and any other +json type). */
const jsonTypes = ['application/json', '+json', 'application/csp-report'];

/** Methods whose bodies the server reads. */
const methodsWithBodies = new Set(['POST', 'PUT', 'PATCH']);

/**
 * Before the body parser: a JSON or form body is read through
 * readRequestBody (decoded, bounded, JSON depth checked) and handed on as
 * plain bytes, so the parser only ever sees a body that is safe to parse.
 */
export function boundRequestBodies(limits: BodyLimits) {
  return async function boundBody(ctx: Context, next: Next): Promise<void> {
    if (!methodsWithBodies.has(ctx.method) || !ctx.request.type) return next();
    const kind = ctx.is(...jsonTypes) ? 'json' : ctx.is('application/x-www-form-urlencoded') ? 'form' : undefined;
    if (!kind) return next();
    const body = await readRequestBody(ctx, kind === 'json' ? limits.jsonBytes : limits.formBytes, { json: kind === 'json' });
    replayBody(ctx, body, ctx.get('content-type'));
    return next();
  };
}
