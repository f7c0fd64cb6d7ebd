import { timingSafeEqual, createHash } from 'node:crypto';
import Router from '@koa/router';
import type { Context } from 'koa';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

/**
 * Prometheus metrics: process defaults plus one request histogram labelled
 * by method, route pattern (never the raw path, which holds ids and codes)
 * and status. /metrics needs `Authorization: Bearer <METRICS_TOKEN>` when a
 * token is configured.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly #requests: Histogram<'method' | 'route' | 'status'>;

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    this.#requests = new Histogram({
      name: 'appgrant_http_request_duration_seconds',
      help: 'HTTP requests by method, route pattern and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [this.registry],
    });
  }

  /** Exposes a running count kept elsewhere (e.g. the password hasher's verifications) as a counter. */
  countFrom(name: string, help: string, read: () => number): void {
    new Counter({
      name,
      help,
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  }

  observe(ctx: Context, path: string, status: number, seconds: number): void {
    this.#requests.observe({ method: ctx.method, route: routeLabel(ctx, path), status: String(status) }, seconds);
  }

  router(token: string | undefined): Router {
    const router = new Router();
    const expected = token ? createHash('sha256').update(token).digest() : undefined;
    router.get('/metrics', async (ctx) => {
      if (expected) {
        const presented = createHash('sha256').update(ctx.get('authorization').replace(/^Bearer /i, '')).digest();
        if (!timingSafeEqual(presented, expected)) {
          ctx.status = 401;
          ctx.set('WWW-Authenticate', 'Bearer realm="metrics"');
          return;
        }
      }
      ctx.type = this.registry.contentType;
      ctx.body = await this.registry.metrics();
    });
    return router;
  }
}

function routeLabel(ctx: Context, path: string): string {
  if (ctx._matchedRoute) return String(ctx._matchedRoute);
  if (path.startsWith('/oauth/authorize/')) return '/oauth/authorize/:uid';
  if (path.startsWith('/oauth/') || path.startsWith('/.well-known/')) return path;
  return 'unmatched';
}
