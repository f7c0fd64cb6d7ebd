import { describe, expect, it } from 'vitest';
import { forgetRequestReads, keepRequestReads, ReadKind } from '../../../src/oauth/storage/request-reads.ts';

/**
 * The per-request store behind the read-ahead (src/oauth/read-ahead.ts): a
 * row read once in a request is answered from the store for the rest of that
 * request only. These are the properties the token endpoints rely on.
 */

function counter() {
  let loads = 0;
  return {
    load: async () => {
      loads += 1;
      return { version: loads };
    },
    get loads() {
      return loads;
    },
  };
}

/** Runs `body` as the rest of one request, the way the app's middleware does. */
function inRequest<T>(body: () => Promise<T>): Promise<T> {
  let result: T;
  return keepRequestReads(undefined, async () => {
    result = await body();
  }).then(() => result);
}

describe('request reads', () => {
  const rows = new ReadKind<{ version: number } | undefined>('test-row');

  it('outside a request, every lookup reads the database', async () => {
    const source = counter();
    await rows.once('a', source.load);
    await rows.once('a', source.load);
    expect(source.loads).toBe(2);
  });

  it('within a request, a row is read once; a remembered "not found" counts as read', async () => {
    const source = counter();
    await inRequest(async () => {
      expect(await rows.once('a', source.load)).toEqual({ version: 1 });
      expect(await rows.once('a', source.load)).toEqual({ version: 1 });
      rows.remember('missing', undefined);
      expect(await rows.once('missing', source.load)).toBeUndefined();
    });
    expect(source.loads).toBe(1);
  });

  it('a written row is forgotten, and a bulk removal forgets everything', async () => {
    const source = counter();
    await inRequest(async () => {
      await rows.once('a', source.load);
      rows.forget('a');
      expect(await rows.once('a', source.load)).toEqual({ version: 2 });
      await rows.once('b', source.load);
      forgetRequestReads();
      expect(await rows.once('a', source.load)).toEqual({ version: 4 });
      expect(await rows.once('b', source.load)).toEqual({ version: 5 });
    });
  });

  it('never answers another request, even one running at the same time', async () => {
    const source = counter();
    const [first, second] = await Promise.all([
      inRequest(async () => {
        rows.remember('shared', { version: 100 });
        await new Promise((done) => setTimeout(done, 20));
        return rows.once('shared', source.load);
      }),
      inRequest(async () => {
        await new Promise((done) => setTimeout(done, 10));
        return rows.once('shared', source.load);
      }),
    ]);
    expect(first).toEqual({ version: 100 });
    expect(second).toEqual({ version: 1 });
  });

  it('work the request left running sees nothing once the response is done', async () => {
    const source = counter();
    let later: Promise<unknown> | undefined;
    await inRequest(async () => {
      rows.remember('a', { version: 100 });
      // A continuation that outlives the request (a timer it started) keeps its async context.
      later = new Promise((done) => setTimeout(() => done(rows.once('a', source.load)), 30));
    });
    expect(await later).toEqual({ version: 1 });
  });
});
