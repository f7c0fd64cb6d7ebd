import Router from '@koa/router';
import type { Knex } from 'knex';

/**
 * /readyz answers within this, whatever the database does: a probe still
 * running by then counts as unreachable. Load balancers usually give a
 * readiness check one or two seconds.
 */
const readinessDeadlineMs = 500;

/**
 * Whether the database answers `select 1`, asked once however many probes
 * come in meanwhile: with the database frozen, probes neither pile up on
 * the pool nor wait for it.
 */
function databaseProbe(db: Knex): () => Promise<boolean> {
  let running: Promise<boolean> | undefined;
  return async () => {
    running ??= db.raw('select 1').then(
      () => true,
      () => false,
    );
    const probe = running;
    void probe.finally(() => {
      if (running === probe) running = undefined;
    });
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((done) => (timer = setTimeout(() => done(false), readinessDeadlineMs)));
    try {
      return await Promise.race([probe, late]);
    } finally {
      clearTimeout(timer);
    }
  };
}

/** Liveness says the process answers; readiness says it takes traffic and can reach its database. */
export function healthRouter(db: Knex, isShuttingDown: () => boolean): Router {
  const router = new Router();
  const databaseAnswers = databaseProbe(db);
  router.get('/healthz', (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { status: 'ok' };
  });
  router.get('/readyz', async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    if (isShuttingDown()) {
      ctx.status = 503;
      ctx.body = { status: 'shutting down' };
      return;
    }
    if (await databaseAnswers()) {
      ctx.body = { status: 'ready', database: 'ok' };
    } else {
      ctx.status = 503;
      ctx.body = { status: 'unavailable', database: 'unreachable' };
    }
  });
  return router;
}
