import { AsyncLocalStorage } from 'node:async_hooks';
import type { Next } from 'koa';

/**
 * What the current request has already read from the database, by kind and
 * id. The OAuth engine looks up the client, the code, its grant and the
 * account one after another; a step that knows what the engine will ask for
 * reads it all in one statement and leaves it here, and each later lookup of
 * the same row in the same request is answered from it.
 *
 * Nothing is kept beyond the request: the store closes when the response is
 * done, so no other request, and nothing that outlives this one, ever sees
 * these rows. A row the request writes is forgotten, so it is read again.
 */
class RequestReads {
  readonly #rows = new Map<string, unknown>();
  #open = true;

  has(key: string): boolean {
    return this.#open && this.#rows.has(key);
  }

  get(key: string): unknown {
    return this.#rows.get(key);
  }

  set(key: string, value: unknown): void {
    if (this.#open) this.#rows.set(key, value);
  }

  delete(key: string): void {
    this.#rows.delete(key);
  }

  clear(): void {
    this.#rows.clear();
  }

  close(): void {
    this.#open = false;
    this.#rows.clear();
  }
}

const currentReads = new AsyncLocalStorage<RequestReads>();

/** Koa middleware: the rest of the request has a store of its reads. */
export async function keepRequestReads(_ctx: unknown, next: Next): Promise<void> {
  const reads = new RequestReads();
  try {
    await currentReads.run(reads, next);
  } finally {
    reads.close();
  }
}

/** Rows were removed in bulk (a grant and everything issued under it): the rest of the request reads afresh. */
export function forgetRequestReads(): void {
  currentReads.getStore()?.clear();
}

/** One kind of row a request can remember, by id; `T` includes the "not found" answer. */
export class ReadKind<T> {
  readonly #name: string;

  constructor(name: string) {
    this.#name = name;
  }

  /** The row as this request already read it, or else loaded now (and kept for the rest of the request). */
  async once(id: string, load: () => Promise<T>): Promise<T> {
    const reads = currentReads.getStore();
    const key = `${this.#name}\0${id}`;
    if (reads?.has(key)) return reads.get(key) as T;
    const value = await load();
    reads?.set(key, value);
    return value;
  }

  /** What this request remembered for this id, if anything; nothing is loaded. */
  peek(id: string): T | undefined {
    const reads = currentReads.getStore();
    const key = `${this.#name}\0${id}`;
    return reads?.has(key) ? (reads.get(key) as T) : undefined;
  }

  /** What a combined read found (or did not find) for this id. */
  remember(id: string, value: T): void {
    currentReads.getStore()?.set(`${this.#name}\0${id}`, value);
  }

  /** The row was written: the next lookup reads it again. */
  forget(id: string): void {
    currentReads.getStore()?.delete(`${this.#name}\0${id}`);
  }
}
