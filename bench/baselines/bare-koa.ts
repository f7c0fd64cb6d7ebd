/**
 * Baseline: a bare Koa route answering GET /v2/apps/:appId with the same
 * JSON appgrant answers for the bench app, built once, serialized per
 * request as Koa does. No database, no authentication, no other middleware.
 *
 * Environment: PORT, APP_ID, BODY (the JSON appgrant answers).
 */
import { createServer } from 'node:http';
import Koa from 'koa';
import Router from '@koa/router';

const port = Number(process.env.PORT);
const appId = process.env.APP_ID;
const body = JSON.parse(process.env.BODY ?? 'null') as unknown;
if (!port || !appId || !body) throw new Error('PORT, APP_ID and BODY are required');

const router = new Router();
router.get('/healthz', (ctx) => {
  ctx.body = { status: 'ok' };
});
router.get('/v2/apps/:appId', (ctx) => {
  if (ctx.params.appId !== appId) {
    ctx.status = 404;
    return;
  }
  ctx.body = body;
});

const app = new Koa();
app.use(router.routes());
const server = createServer(app.callback());
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
