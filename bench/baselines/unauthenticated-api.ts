/**
 * Baseline: appgrant's GET /v2/apps/:appId with authentication switched
 * off. The same findApp and presentApp on the same database, with the same
 * pool size as the server, but no credential check at all: what the read
 * itself costs.
 *
 * Environment: PORT, DATABASE_URL.
 */
import { createServer } from 'node:http';
import Koa from 'koa';
import Router from '@koa/router';
import { findApp } from '../../src/apps/apps.ts';
import { presentApp } from '../../src/api/presenters.ts';
import { openDatabase } from '../../src/db/database.ts';

const port = Number(process.env.PORT);
const databaseUrl = process.env.DATABASE_URL;
if (!port || !databaseUrl) throw new Error('PORT and DATABASE_URL are required');

const database = await openDatabase({ databaseUrl, dataDir: 'unused' });
const db = database.knex;

const router = new Router();
router.get('/healthz', (ctx) => {
  ctx.body = { status: 'ok' };
});
router.get('/v2/apps/:appId', async (ctx) => {
  const app = await findApp(db, ctx.params.appId as string);
  if (!app) {
    ctx.status = 404;
    ctx.body = { errors: [{ code: 'app_not_found', title: 'App not found' }] };
    return;
  }
  ctx.body = { app: presentApp(app) };
});

const app = new Koa();
app.use(router.routes());
const server = createServer(app.callback());
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => {
  server.close(() => {
    database.close().finally(() => process.exit(0));
  });
});
