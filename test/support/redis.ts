import { describe } from 'vitest';
import { Redis } from 'ioredis';

/** The Redis the counter-store tests use (TEST_REDIS_URL, default the local one). */
export const testRedisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Whether Redis answers a PING within a moment. */
async function redisAnswers(url: string): Promise<boolean> {
  const client = new Redis(url, { lazyConnect: true, connectTimeout: 1000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => {});
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

const available = await redisAnswers(testRedisUrl);
if (!available && /^(1|true|yes)$/i.test(process.env.CI ?? '')) {
  throw new Error(`Redis at ${new URL(testRedisUrl).host} does not answer and CI runs the Redis tests`);
}

/** Tests that need Redis: skipped where none answers, required on CI. */
export const describeWithRedis = describe.runIf(available);
