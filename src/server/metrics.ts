import { timingSafeEqual, createHash } from 'node:crypto';
import Router from '@koa/router';
import Koa, { type Context, type Next } from 'koa';
import type { KoaContextWithOIDC, Provider } from 'oidc-provider';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { AccessOutcome } from '../api/access.ts';
import type { LoginAttempt } from '../accounts/password-login.ts';
import type { KeyEvents } from '../credentials/api-keys.ts';
import type { NoticeDeliveryResult } from '../notices/removal-notices.ts';
import type { Level } from '../permissions/catalog.ts';
import { errorBoundary, type ErrorLog } from '../http/boundary.ts';
import { explainUnanswered } from '../http/fallbacks.ts';
import { refuseUnreadableTarget } from '../http/client-errors.ts';
import { ApiProblem } from '../http/problems.ts';

/**
 * Prometheus metrics an operator can alert on (ops/prometheus/alerts.yml,
 * ops/grafana/appgrant.json). Every label takes values from a short fixed
 * list, never from a request (ids, codes, paths), so the number of series
 * stays bounded whatever clients send; the fixed combinations start at 0, so
 * an alert on a rate has a series to read before the first event.
 *
 * One Metrics holds one registry: a server gets its own (tests run several
 * servers in one process), nothing is registered globally.
 */

/** What the state gauges read when /metrics is scraped. */
export interface MetricSources {
  /** Notices not yet delivered nor given up, and how long the oldest has waited. */
  noticeBacklog(): Promise<{ pending: number; oldestSeconds: number }>;
  /** Seconds the key that signs now has been signing. */
  signingKeyAgeSeconds(): Promise<number>;
  /** Database connections in use, idle, and requests waiting for one. */
  databasePool(): { inUse: number; idle: number; waiting: number };
}

const grantTypes = ['authorization_code', 'refresh_token', 'client_credentials'] as const;
/** RFC 6749 §5.2, RFC 7009, RFC 8707, RFC 9449 and the engine's server_error: what the token endpoint answers. */
const tokenErrors = [
  'invalid_request',
  'invalid_client',
  'invalid_grant',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_scope',
  'invalid_target',
  'invalid_dpop_proof',
  'use_dpop_nonce',
  'temporarily_unavailable',
  'server_error',
] as const;
const introspectionResults = ['active', 'inactive', 'error'] as const;
const credentialKinds = ['none', 'basic', 'jwt', 'bearer', 'dpop'] as const;
const loginOutcomes = { 'signed-in': 'ok', 'wrong-credentials': 'failed', throttled: 'throttled' } as const;
const keyLevels: Level[] = ['app', 'account'];
const noticeResults: NoticeDeliveryResult[] = ['delivered', 'failed', 'gave_up'];

/** One of the known values, or "other" for anything else a client managed to produce. */
function bounded<T extends string>(known: readonly T[], value: unknown): T | 'other' {
  return known.includes(value as T) ? (value as T) : 'other';
}

export class Metrics {
  readonly registry: Registry;
  readonly #requests: Histogram<'method' | 'route' | 'status'>;
  readonly #tokensIssued: Counter<'grant_type'>;
  readonly #tokenErrors: Counter<'error'>;
  /** Requests whose refusal an engine event already counted (keyed by the Node request, which every Koa context of a request shares). */
  readonly #countedByEngine = new WeakSet<object>();
  #enginePaths: { token: string; introspection: string } | undefined;
  readonly #introspections: Counter<'result'>;
  readonly #engineServerErrors: Counter<'route'>;
  readonly #apiAuthorizations: Counter<'credential' | 'outcome' | 'reason'>;
  readonly #logins: Counter<'outcome'>;
  readonly #keysCreated: Counter<'level'>;
  readonly #keysRevoked: Counter;
  readonly #noticeAttempts: Counter<'result'>;

  constructor(registry: Registry = new Registry()) {
    this.registry = registry;
    collectDefaultMetrics({ register: registry });
    this.#requests = new Histogram({
      name: 'appgrant_http_request_duration_seconds',
      help: 'HTTP requests by method, route pattern and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    });
    this.#tokensIssued = this.#counter('appgrant_oauth_tokens_issued_total', 'Successful token endpoint requests, by grant type', 'grant_type', grantTypes);
    this.#tokenErrors = this.#counter('appgrant_oauth_token_errors_total', 'Token endpoint requests the OAuth engine refused, by OAuth error code', 'error', tokenErrors);
    this.#introspections = this.#counter(
      'appgrant_oauth_introspections_total',
      'Token introspections (RFC 7662), by result: active, inactive, or refused with an error',
      'result',
      introspectionResults,
    );
    this.#engineServerErrors = this.#counter('appgrant_oauth_server_errors_total', 'Unexpected errors inside the OAuth engine, by engine route', 'route', ['token']);
    this.#logins = this.#counter('appgrant_logins_total', 'Password logins, by outcome: ok, failed (wrong email or password), throttled', 'outcome', Object.values(loginOutcomes));
    this.#keysCreated = this.#counter('appgrant_api_keys_created_total', 'API keys created through this instance, by level', 'level', keyLevels);
    this.#keysRevoked = new Counter({ name: 'appgrant_api_keys_revoked_total', help: 'API keys revoked through this instance', registers: [registry] });
    this.#noticeAttempts = this.#counter(
      'appgrant_notice_deliveries_total',
      'Notice delivery attempts to partners, by result: delivered, failed (retried later), gave_up (last attempt failed)',
      'result',
      noticeResults,
    );
    this.#apiAuthorizations = new Counter({
      name: 'appgrant_api_authorizations_total',
      help: 'Authorization decisions on the platform API, by credential kind, outcome (allowed, unauthorized, forbidden) and reason',
      labelNames: ['credential', 'outcome', 'reason'],
      registers: [registry],
    });
    for (const credential of credentialKinds.filter((kind) => kind !== 'none')) {
      this.#apiAuthorizations.inc({ credential, outcome: 'allowed', reason: 'none' }, 0);
    }
  }

  /** A counter with one label, each of whose known values starts at 0. */
  #counter<L extends string>(name: string, help: string, label: L, known: readonly string[]): Counter<L> {
    const counter = new Counter<L>({ name, help, labelNames: [label], registers: [this.registry] });
    for (const value of known) counter.inc({ [label]: value } as Partial<Record<L, string>>, 0);
    return counter;
  }

  /**
   * Gauges read at scrape time. prom-client collects the gauges of one
   * scrape concurrently, so the three backlog gauges share one query. A
   * source that fails leaves its gauge without a value rather than failing
   * /metrics, and appgrant_notices_backlog_scrape_ok says so.
   */
  watch(sources: MetricSources): void {
    this.#watchNotices(sources.noticeBacklog);
    const registers = [this.registry];
    new Gauge({
      name: 'appgrant_signing_key_age_seconds',
      help: 'How long the key that signs notices has been signing (rotate with `appgrant signing-keys rotate`)',
      registers,
      async collect() {
        try {
          this.set(await sources.signingKeyAgeSeconds());
        } catch {
          this.reset();
        }
      },
    });
    new Gauge({
      name: 'appgrant_db_pool_connections',
      help: 'Database pool connections, by state: in_use or idle',
      labelNames: ['state'],
      registers,
      collect() {
        const pool = sources.databasePool();
        this.set({ state: 'in_use' }, pool.inUse);
        this.set({ state: 'idle' }, pool.idle);
      },
    });
    new Gauge({
      name: 'appgrant_db_pool_waiting',
      help: 'Queries waiting for a database connection',
      registers,
      collect() {
        this.set(sources.databasePool().waiting);
      },
    });
  }

  #watchNotices(noticeBacklog: MetricSources['noticeBacklog']): void {
    const registers = [this.registry];
    const backlog = oneAtATime(noticeBacklog);
    const readBacklog = async (gauge: Gauge, read: (value: { pending: number; oldestSeconds: number }) => number) => {
      try {
        gauge.set(read(await backlog()));
      } catch {
        gauge.reset();
      }
    };
    new Gauge({
      name: 'appgrant_notices_pending',
      help: 'Notices waiting to be delivered',
      registers,
      collect() {
        return readBacklog(this, (value) => value.pending);
      },
    });
    new Gauge({
      name: 'appgrant_notices_oldest_pending_age_seconds',
      help: 'How long the oldest undelivered notice has waited (0 when none waits)',
      registers,
      collect() {
        return readBacklog(this, (value) => value.oldestSeconds);
      },
    });
    new Gauge({
      name: 'appgrant_notices_backlog_scrape_ok',
      help: '1 when the notice backlog could be read at this scrape, 0 when the database did not answer',
      registers,
      async collect() {
        this.set(await backlog().then(() => 1, () => 0));
      },
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

  observe(ctx: Context, status: number, seconds: number): void {
    this.#requests.observe({ method: ctx.method, route: routeLabel(ctx), status: String(status) }, seconds);
    this.#countRefusedBeforeEngine(ctx, status);
  }

  /**
   * A token or introspection request refused in front of the engine (a client
   * secret in no shape this server issues, an unreadable body) raises no engine
   * event, yet it is a refusal an operator alerts on: it is counted here from
   * the answer, unless the engine already counted that request.
   */
  #countRefusedBeforeEngine(ctx: Context, status: number): void {
    if (status < 400 || this.#countedByEngine.has(ctx.req) || !this.#enginePaths) return;
    const error = (ctx.body as { error?: unknown } | undefined)?.error;
    if (typeof error !== 'string') return;
    if (ctx.path === this.#enginePaths.token) this.#tokenErrors.inc({ error: bounded(tokenErrors, error) });
    if (ctx.path === this.#enginePaths.introspection) this.#introspections.inc({ result: 'error' });
  }

  /** A platform API authorization decision (set on the request by the API's authorize step). */
  authorization(outcome: AccessOutcome): void {
    this.#apiAuthorizations.inc({ credential: bounded(credentialKinds, outcome.credential), outcome: outcome.outcome, reason: outcome.reason });
  }

  readonly login = (outcome: LoginAttempt['outcome']): void => {
    this.#logins.inc({ outcome: loginOutcomes[outcome] });
  };

  readonly keyEvents: KeyEvents = {
    created: (level) => this.#keysCreated.inc({ level }),
    revoked: () => this.#keysRevoked.inc(),
  };

  readonly noticeDelivery = (result: NoticeDeliveryResult): void => {
    this.#noticeAttempts.inc({ result });
  };

  /**
   * Counts what the OAuth engine does: tokens issued and refused (its
   * grant.success and grant.error events), introspection results (no event
   * says active or inactive, so the answer is read), and its server errors.
   */
  observeEngine(provider: Provider, paths: { token: string; introspection: string }): void {
    this.#enginePaths = paths;
    const introspectionPath = paths.introspection;
    provider.on('grant.success', (ctx: KoaContextWithOIDC) => {
      this.#tokensIssued.inc({ grant_type: bounded(grantTypes, ctx.oidc.params?.grant_type) });
    });
    provider.on('grant.error', (ctx: KoaContextWithOIDC, error: { error?: string }) => {
      this.#countedByEngine.add(ctx.req);
      this.#tokenErrors.inc({ error: bounded(tokenErrors, error.error) });
    });
    provider.on('introspection.error', (ctx: KoaContextWithOIDC) => {
      this.#countedByEngine.add(ctx.req);
      this.#introspections.inc({ result: 'error' });
    });
    provider.on('server_error', (ctx: KoaContextWithOIDC) => {
      const route = bounded(['authorization', 'resume', 'token', 'introspection', 'revocation', 'jwks', 'discovery'] as const, ctx.oidc?.route);
      this.#countedByEngine.add(ctx.req);
      this.#engineServerErrors.inc({ route });
      if (route === 'token') this.#tokenErrors.inc({ error: 'server_error' });
      if (route === 'introspection') this.#introspections.inc({ result: 'error' });
    });
    const introspections = this.#introspections;
    provider.use(async function countIntrospectionResults(ctx: Context, next: Next) {
      await next();
      if (ctx.path !== introspectionPath || ctx.status !== 200) return;
      const active = (ctx.body as { active?: unknown } | undefined)?.active;
      if (typeof active === 'boolean') introspections.inc({ result: active ? 'active' : 'inactive' });
    });
  }

  router(token: string | undefined): Router {
    const router = new Router();
    const expected = token ? createHash('sha256').update(token).digest() : undefined;
    router.get('/metrics', async (ctx) => {
      if (expected) {
        const presented = createHash('sha256').update(ctx.get('authorization').replace(/^Bearer /i, '')).digest();
        if (!timingSafeEqual(presented, expected)) {
          throw new ApiProblem(401, 'unauthorized', 'Authorization is required', { 'WWW-Authenticate': 'Bearer realm="metrics"' });
        }
      }
      ctx.type = this.registry.contentType;
      ctx.body = await this.registry.metrics();
    });
    return router;
  }

  /** /metrics alone, for a listener of its own on a private address (METRICS_PORT). */
  standaloneApp(token: string | undefined, logger: ErrorLog): Koa {
    const app = new Koa();
    const router = this.router(token);
    app.use(refuseUnreadableTarget);
    app.use(errorBoundary(logger));
    app.use(explainUnanswered);
    app.use(router.routes());
    app.use(router.allowedMethods());
    app.silent = true;
    return app;
  }
}

/** Calls made while one is in flight share its answer: one query per scrape, however many gauges read it. */
function oneAtATime<T>(read: () => Promise<T>): () => Promise<T> {
  let inFlight: Promise<T> | undefined;
  return () => {
    inFlight ??= read().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  };
}

/**
 * The pattern of the route that answered (ours, or the engine's own router's);
 * anything else is `unmatched`, so probing made-up paths cannot create new
 * series.
 */
function routeLabel(ctx: Context): string {
  return ctx._matchedRoute ? String(ctx._matchedRoute) : 'unmatched';
}
