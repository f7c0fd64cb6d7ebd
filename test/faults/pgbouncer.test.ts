import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basic, call, keyEncryptionEnv, oauthToken } from '../support/credentials.ts';
import { createClusterDatabase, directConnection, seedWorld } from '../support/fault-world.ts';
import { introspect } from '../support/flow.ts';
import { createCluster, type Cluster } from '../support/postgres-cluster.ts';
import { startPgBouncer, type Bouncer } from '../support/pgbouncer.ts';
import { killAllServers, spawnServer } from '../support/server-process.ts';
import { startRoundRobin, type RoundRobin } from '../support/round-robin.ts';

/**
 * Production's shape (docker-compose.yml): one PostgreSQL, PgBouncer in
 * pool_mode=transaction in front of it, several appgrant instances behind
 * PgBouncer and a load balancer in front of them. Each step of a flow lands
 * on another instance, and every connection of every instance meets several
 * server sessions.
 */
describe('three instances behind PgBouncer in transaction mode', () => {
  let cluster: Cluster | undefined;
  let bouncer: Bouncer | undefined;
  let balancer: RoundRobin | undefined;
  let db: Knex | undefined;

  beforeAll(async () => {
    cluster = await createCluster();
    await createClusterDatabase(cluster, 'appgrant');
    // Fewer server sessions than the instances' pools: connections are shared, as under load.
    bouncer = await startPgBouncer(cluster, 3);
    balancer = await startRoundRobin();
    const env = { DATABASE_URL: bouncer.url('appgrant'), ISSUER: balancer.url, ...keyEncryptionEnv };
    // All three at once on an empty database: one migrates, the others wait for it.
    const instances = [spawnServer(env), spawnServer(env), spawnServer(env)];
    balancer.targets.push(...(await Promise.all(instances.map((instance) => instance.ready))));
    db = directConnection(cluster.url('appgrant'));
  }, 150_000);

  afterAll(async () => {
    await killAllServers();
    await balancer?.close();
    await db?.destroy();
    await bouncer?.stop();
    await cluster?.drop();
  }, 60_000);

  it('every instance is ready; the schema was migrated once', async () => {
    for (const url of balancer!.targets) {
      const response = await fetch(`${url}/readyz`);
      expect(response.status).toBe(200);
    }
    const batches = await db!('knex_migrations').countDistinct({ batches: 'batch' }).first();
    expect(Number(batches?.batches)).toBe(1);
  });

  it('concurrent full flows, introspections and API calls across the instances all succeed', { timeout: 120_000 }, async () => {
    // One app per flow: each flow ends in an authorization of its own.
    const { owner, apps, partner: client, key } = await seedWorld(db!, ['Support', 'Sales', 'Billing', 'Returns']);
    const app = apps[0]!;
    const base = balancer!.url;

    const flows = await Promise.all(apps.map((each) => oauthToken(base, client, owner, each.id)));
    const failures: string[] = [];
    const expectOk = async (what: string, response: Promise<Response>) => {
      const answer = await response;
      const body = await answer.text();
      if (answer.status !== 200) failures.push(`${what}: ${answer.status} ${body}`);
    };
    const requests: Array<Promise<void>> = [];
    for (let round = 0; round < 6; round += 1) {
      for (const flow of flows) {
        requests.push(expectOk('v2 bearer', call(base, 'GET', `/v2/apps/${flow.app_id}`, { auth: `Bearer ${flow.access_token}` })));
        requests.push(
          introspect(base, client, flow.access_token).then((result) => {
            if (result.active !== true) failures.push(`introspection: ${JSON.stringify(result)}`);
          }),
        );
      }
      requests.push(expectOk('v2 basic', call(base, 'GET', `/v2/apps/${app.id}`, { auth: basic(key) })));
    }
    await Promise.all(requests);
    expect(failures).toEqual([]);
    expect(requests.length).toBeGreaterThan(50);
  });
});
