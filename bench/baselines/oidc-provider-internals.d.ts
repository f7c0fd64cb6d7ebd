/**
 * oidc-provider's own in-memory adapter and the LRU it stores into. The
 * package has no "exports" map, so Node resolves these files directly; the
 * published types do not describe them.
 */
declare module 'oidc-provider/lib/helpers/lru.js' {
  export default class LRU {
    constructor(options: { maxSize: number });
  }
}

declare module 'oidc-provider/lib/adapters/memory_adapter.js' {
  import type { Adapter } from 'oidc-provider';
  import type LRU from 'oidc-provider/lib/helpers/lru.js';

  const MemoryAdapter: new (model: string, store?: LRU, clockTolerance?: number) => Adapter;
  export default MemoryAdapter;
}
