import type { Socket } from 'node:net';
import { OutboundRefusal } from './targets.ts';

/** A call that was allowed but did not complete: network error, timeout, oversized answer, proxy refusal. */
export class OutboundFailure extends Error {}

/**
 * One outbound call's time budget and the sockets it opened. Every step
 * (resolving, connecting, the proxy's answer, TLS, the exchange) counts
 * against one deadline; when it passes, or the call ends, every socket is
 * destroyed, so nothing a slow peer does outlives the call.
 */
export class Attempt {
  readonly timeoutMs: number;
  readonly #controller = new AbortController();
  readonly #timer: NodeJS.Timeout;
  readonly #sockets: Socket[] = [];

  constructor(timeoutMs: number) {
    this.timeoutMs = timeoutMs;
    this.#timer = setTimeout(() => this.#controller.abort(), timeoutMs);
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Destroys the socket when the deadline passes; destroyed at the end of the call in any case. */
  track<T extends Socket>(socket: T): T {
    this.#sockets.push(socket);
    if (this.signal.aborted) socket.destroy();
    else this.signal.addEventListener('abort', () => socket.destroy(), { once: true });
    return socket;
  }

  /** A step that does not take a signal (a DNS lookup), cut short by the deadline. */
  within<T>(step: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const expire = () => reject(this.signal.reason);
      if (this.signal.aborted) return expire();
      this.signal.addEventListener('abort', expire, { once: true });
      step.then(resolve, reject).finally(() => this.signal.removeEventListener('abort', expire));
    });
  }

  /** What went wrong, as a refusal (kept as is) or a failure with a short reason. */
  explain(error: unknown): OutboundRefusal | OutboundFailure {
    if (error instanceof OutboundRefusal || error instanceof OutboundFailure) return error;
    if (this.signal.aborted) return new OutboundFailure(`timed out after ${this.timeoutMs} ms`);
    // Node appends advice to some TLS errors after a semicolon; the reason is what comes before.
    return new OutboundFailure(`network error: ${(error as Error).message.split('; ')[0]}`);
  }

  end(): void {
    clearTimeout(this.#timer);
    for (const socket of this.#sockets) socket.destroy();
  }
}
