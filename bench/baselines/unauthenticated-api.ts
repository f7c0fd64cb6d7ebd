/**
 * Baseline, the lean read: GET /v2/apps/:appId with no authentication and no
 * framework, what the read itself costs. node:http, a path match, one
 * prepared `pg` statement on the same database with appgrant's pool size,
 * and the same JSON (presentApp). Nothing else: no middleware, no query
 * builder, no request log.
 *
 * Environment: PORT, DATABASE_URL, POOL_SIZE (default 10, appgrant's).
 */
import { createServer, type ServerResponse } from 'node:http';
import pg from 'pg';
import type { App } from '../../src/apps/apps.ts';
import { presentApp } from '../../src/api/presenters.ts';

const port = Number(process.env.PORT);
const databaseUrl = process.env.DATABASE_URL;
if (!port || !databaseUrl) throw new Error('PORT and DATABASE_URL are required');
const pool = new pg.Pool({ connectionString: databaseUrl, max: Number(process.env.POOL_SIZE ?? 10) });

const appPath = /^\/v2\/apps\/([^/?]+)$/;

function send(response: ServerResponse, status: number, body: unknown): void {
  const json = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(json) });
  response.end(json);
}

async function readApp(id: string): Promise<App | undefined> {
  const { rows } = await pool.query<App>({ name: 'lean_find_app', text: 'select * from apps where id = $1', values: [id] });
  return rows[0];
}

const server = createServer((request, response) => {
  const match = request.method === 'GET' ? appPath.exec(request.url ?? '') : null;
  if (request.url === '/healthz') return send(response, 200, { status: 'ok' });
  if (!match) return send(response, 404, { errors: [{ code: 'not_found', title: 'Not found' }] });
  readApp(decodeURIComponent(match[1]!)).then(
    (app) => (app ? send(response, 200, { app: presentApp(app) }) : send(response, 404, { errors: [{ code: 'app_not_found', title: 'App not found' }] })),
    () => send(response, 503, { errors: [{ code: 'unavailable', title: 'Database unavailable' }] }),
  );
});
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => server.close(() => void pool.end().finally(() => process.exit(0))));
