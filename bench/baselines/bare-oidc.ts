/**
 * Baseline, the limit: oidc-provider configured like appgrant's engine
 * (engine.ts) with no database at all: the engine's own MemoryAdapter.
 *
 * The default MemoryAdapter keeps at most ~2000 entries (an LRU of 1000 per
 * generation), so codes minted ahead of a run would be evicted before use.
 * Same adapter class, larger store.
 */
import MemoryAdapter from 'oidc-provider/lib/adapters/memory_adapter.js';
import LRU from 'oidc-provider/lib/helpers/lru.js';
import { serveEngine } from './engine.ts';

const store = new LRU({ maxSize: 2_000_000 });
serveEngine((model) => new MemoryAdapter(model, store));
