import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basic, call, keyEncryptionEnv, oauthToken } from '../support/credentials.ts';
import { createClusterDatabase, directConnection, seedWorld } from '../support/fault-world.ts';
import { introspect } from '../support/flow.ts';
import { createCluster, type Cluster } from '../support/postgres-cluster.ts';
import { startPgBouncer, type Bouncer } from '../support/pgbouncer.ts';
import { killAllServers, spawnServer, type ServerProcess } from '../support/server-process.ts';
import { runCli } from '../support/cli.ts';
import { retentionRules } from '../../src/retention/rules.ts';
import { startRoundRobin, type RoundRobin } from '../support/round-robin.ts';
import { basicAuth } from '../support/basic.ts';

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
  let instances: ServerProcess[] = [];

  beforeAll(async () => {
    cluster = await createCluster();
    await createClusterDatabase(cluster, 'appgrant');
    // Fewer server sessions than the instances' pools: connections are shared, as under load.
    bouncer = await startPgBouncer(cluster, 3);
    balancer = await startRoundRobin();
    // Each instance sweeps every second, so their retention sweeps overlap.
    const env = { DATABASE_URL: bouncer.url('appgrant'), ISSUER: balancer.url, RETENTION_SWEEP_INTERVAL: '1', ...keyEncryptionEnv };
    // All three at once on an empty database: one migrates, the others wait for it.
    instances = [spawnServer(env), spawnServer(env), spawnServer(env)];
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

  it('a refresh retried on another instance, and two at once on two instances, all succeed and revoke nothing', { timeout: 60_000 }, async () => {
    const { owner, apps, partner } = await seedWorld(db!);
    const tokens = await oauthToken(balancer!.url, partner, owner, apps[0]!.id);
    const refresh = (url: string) =>
      fetch(`${url}/oauth/token`, {
        method: 'POST',
        headers: { authorization: basicAuth(partner.id, partner.secret), 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token }),
      });
    const [first, second, third] = balancer!.targets as [string, string, string];
    const answers = [...(await Promise.all([refresh(first), refresh(second)])), await refresh(third)];
    const bodies = (await Promise.all(answers.map((answer) => answer.json()))) as Array<{ access_token?: string; error?: string }>;
    expect(answers.map((answer) => answer.status), JSON.stringify(bodies)).toEqual([200, 200, 200]);
    for (const body of bodies) expect((await call(first, 'GET', `/v2/apps/${apps[0]!.id}`, { auth: `Bearer ${body.access_token}` })).status).toBe(200);
    expect(await db!('authorizations').where({ partner_id: partner.id }).whereNull('revoked_at')).toHaveLength(1);
  });

  it('the instances sweep what is past its retention one at a time, and `appgrant sweep` reports through PgBouncer', { timeout: 90_000 }, async () => {
    const old = (n: number) => Array.from({ length: n }, (_, index) => ({ id: `old-proof-${index}`, expires_at: new Date(Date.now() - 60_000) }));
    await db!('used_proofs').insert(old(2500));
    await db!('events').insert(Array.from({ length: 1500 }, () => ({ type: 'owner.logged_out', actor_type: 'system', occurred_at: new Date(Date.now() - 500 * 86_400_000) })));
    const deadline = Date.now() + 30_000;
    const left = async () => Number((await db!('used_proofs').count({ n: '*' }).where('id', 'like', 'old-proof-%').first())?.n) + Number((await db!('events').count({ n: '*' }).where('occurred_at', '<', new Date(Date.now() - 400 * 86_400_000)).first())?.n);
    while ((await left()) > 0 && Date.now() < deadline) await new Promise((wake) => setTimeout(wake, 250));
    expect(await left()).toBe(0);
    for (const instance of instances) expect(instance.output()).not.toMatch(/retention sweep failed/);

    await db!('used_proofs').insert(old(3));
    const cli = await runCli(['sweep'], { DATABASE_URL: bouncer!.url('appgrant'), ...keyEncryptionEnv });
    expect(cli.code, cli.stderr).toBe(0);
    const report = JSON.parse(cli.stdout) as { removed: Record<string, number>; complete: boolean };
    expect(Object.keys(report.removed)).toEqual(retentionRules.map((rule) => rule.name));
    // An instance may have swept some of them first, or be sweeping now: together they removed all three.
    expect(report.removed.used_proofs).toBeLessThanOrEqual(3);
    await expect.poll(left, { timeout: 10_000 }).toBe(0);
  });
});
