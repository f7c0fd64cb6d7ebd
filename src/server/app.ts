import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import Koa, { type Context, type Middleware, type Next } from 'koa';
import compose from 'koa-compose';
import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import type { Knex } from 'knex';
import type { Provider } from 'oidc-provider';
import type { Settings } from '../config/settings.ts';
import type { Logger } from '../log/logger.ts';
import { passwordHasherFor, type PasswordHasher } from '../accounts/password-hasher.ts';
import { PasswordLogin } from '../accounts/password-login.ts';
import { SharedCounters } from '../limits/shared-counters.ts';
import { GuessLimits } from '../limits/guess-limits.ts';
import { ClientSecretVerifier, clientAuthGuesses, PartnerClientAuthenticator } from '../oauth/client-secrets.ts';
import { createOAuthProvider, oauthRoutes } from '../oauth/provider.ts';
import { addressedToIssuer } from '../oauth/engine-requests.ts';
import { engineMiddleware } from '../oauth/engine-internals.ts';
import { interactionRouter } from '../web/interaction/routes.ts';
import { revokeAuthorizationRouter } from '../api/revoke-authorization.ts';
import { loadCookieKeys, loadKeyEncryptionKeys } from '../keys/server-keys.ts';
import { SigningKeySet } from '../keys/signing-keys.ts';
import { jwksRouter } from '../oauth/jwks.ts';
import { noticeBacklog } from '../notices/removal-notices.ts';
import { poolStats } from '../db/pool-stats.ts';
import { CallerResolver } from '../credentials/resolve.ts';
import { accessTokenLookup } from '../oauth/access-tokens.ts';
import { SecretBox } from '../keys/secret-box.ts';
import { PageFlashes } from '../web/page-flashes.ts';
import { BearerDigests } from '../keys/bearer-digests.ts';
import { PartnerSecretHasher } from '../partners/partner-secrets.ts';
import { RecordIds } from '../oauth/storage/record-ids.ts';
import { apiRouter } from '../api/routes.ts';
import { eventExportRouter } from '../api/event-export.ts';
import { openApiRouter } from '../api/openapi.ts';
import { CsrfGuard } from '../http/csrf.ts';
import { pageHeaders } from '../http/page-headers.ts';
import { resolveClientAddress } from '../http/client-address.ts';
import { strictTransportSecurity } from '../http/transport-security.ts';
import { refuseNulInBody, refuseNulInUrl } from '../http/nul-bytes.ts';
import { errorBoundary, renderProblem, renderProblems } from '../http/boundary.ts';
import { isApiPath } from '../http/audience.ts';
import { explainUnanswered, methodNotAllowed } from '../http/fallbacks.ts';
import { boundRequestBodies } from '../http/request-body.ts';
import { refuseMalformedHost } from '../http/host.ts';
import { refuseUnreadableTarget } from '../http/client-errors.ts';
import { apiCors } from '../api/cors.ts';
import { healthRouter } from './health.ts';
import { answerDatabaseUnavailable, retryAfterEngineOutage, unavailableFor } from './unavailable.ts';
import { requestLog } from './request-log.ts';
import { keepRequestReads } from '../oauth/storage/request-reads.ts';
import { Metrics } from './metrics.ts';
import { OwnerSessions, keyLegacyOwnerSessions } from '../web/owner-sessions.ts';
import { digestLegacyRecords } from '../oauth/storage/legacy-records.ts';
import { dashboardRouter } from '../web/dashboard/routes.ts';
import { portalRouter } from '../web/portal/routes.ts';

export interface Services {
  db: Knex;
  settings: Settings;
  logger: Logger;
  hasher: PasswordHasher;
  provider: Provider;
  box: SecretBox;
  /** Keyed digests: what is stored of tokens, codes, sessions and partner secrets. */
  digests: BearerDigests;
  /** What new partner secrets are stored as. */
  partnerSecrets: PartnerSecretHasher;
  resolver: CallerResolver;
  /** Throttling counts shared by every instance. */
  counters: SharedCounters;
  cookieKeys: string[];
  /** The live signing key set; started here, stopped by whoever stops the server. */
  signingKeys: SigningKeySet;
  metrics: Metrics;
  /** Partners' client credentials checked outside the engine, with the engine's verifier and limits. */
  partnerClients: PartnerClientAuthenticator;
}

/** The engine's paths and the methods it answers on them; oidc-provider itself handles these. */
const engineMethods = new Map<string, string[]>([
  [oauthRoutes.authorization, ['GET']],
  [oauthRoutes.token, ['POST']],
  [oauthRoutes.revocation, ['POST']],
  [oauthRoutes.introspection, ['POST']],
  [oauthRoutes.pushed_authorization_request, ['POST']],
  ['/.well-known/openid-configuration', ['GET']],
]);

function engineMethodsFor(path: string): string[] | undefined {
  return engineMethods.get(path) ?? (path.startsWith(`${oauthRoutes.authorization}/`) ? ['GET'] : undefined);
}

/**
 * Hands engine paths to oidc-provider, on this request's own context (see
 * engine-internals.ts); RFC 8414 metadata is the engine's discovery document.
 */
function engine(provider: Provider, issuer: string) {
  const handle = engineMiddleware(provider, [addressedToIssuer(issuer)]);
  return async function dispatchToEngine(ctx: Context, next: Next): Promise<void> {
    const path = ctx.path === '/.well-known/oauth-authorization-server' ? '/.well-known/openid-configuration' : ctx.path;
    const methods = engineMethodsFor(path);
    if (!methods) return next();
    if (!methods.includes(ctx.method) && !(ctx.method === 'HEAD' && methods.includes('GET'))) {
      throw methodNotAllowed([...methods, ...(methods.includes('GET') ? ['HEAD'] : [])].join(', '));
    }
    if (path !== ctx.path) ctx.path = path;
    await handle(ctx);
    // A path under the engine's prefix that none of its routes takes: the site's 404.
    if (ctx.status === 404 && ctx.body == null) return next();
    retryAfterEngineOutage(ctx);
  };
}

const assetTypes: Record<string, string> = { 'style.css': 'text/css', 'copy.js': 'text/javascript' };
const assets = new Map(
  Object.entries(assetTypes).map(([name, type]) => [name, { type, body: readFileSync(fileURLToPath(new URL(`../../views/${name}`, import.meta.url))) }]),
);

/** The stylesheet and the one small script, from views/. */
function assetsRouter(): Router {
  const router = new Router();
  router.get('/assets/:name', (ctx, next) => {
    const asset = assets.get(ctx.params.name as string);
    if (!asset) return next();
    ctx.type = asset.type;
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.body = asset.body;
  });
  return router;
}

/** `metrics`: where the server counts, its own registry unless one is given. */
export async function createServices(db: Knex, settings: Settings, logger: Logger, metrics = new Metrics()): Promise<Services> {
  const hasher = passwordHasherFor(settings);
  const keyEncryptionKeys = await loadKeyEncryptionKeys(db, settings.KEY_ENCRYPTION_KEYS);
  const box = new SecretBox(keyEncryptionKeys);
  const digests = new BearerDigests(keyEncryptionKeys);
  const recordIds = new RecordIds(digests);
  const partnerSecrets = new PartnerSecretHasher(digests);
  await digestLegacyRecords(db, recordIds);
  await keyLegacyOwnerSessions(db, digests);
  const cookieKeys = await loadCookieKeys(db, settings.COOKIE_KEYS, box);
  const signingKeys = new SigningKeySet(db, box, settings.SIGNING_KEYS_REFRESH_INTERVAL_MS, logger);
  await signingKeys.start();
  const counters = new SharedCounters(db, settings.REDIS_URL);
  const [secretVerifier, guesses] = [new ClientSecretVerifier(hasher, partnerSecrets), clientAuthGuesses(counters, settings)];
  const provider = createOAuthProvider({
    db,
    settings,
    logger,
    cookieKeys,
    signingKey: signingKeys.signingKey()!.jwk,
    secretVerifier,
    recordIds,
    clientAuthGuesses: guesses,
  });
  const partnerClients = new PartnerClientAuthenticator(db, secretVerifier, guesses);
  metrics.observeEngine(provider, { token: oauthRoutes.token, introspection: oauthRoutes.introspection });
  metrics.watch({
    noticeBacklog: () => noticeBacklog(db),
    signingKeyAgeSeconds: async () => signingKeys.signingKeyAgeSeconds(),
    databasePool: () => poolStats(db),
  });
  metrics.countFrom('appgrant_password_hash_verifications_total', 'argon2id verifications run (logins and partner secrets)', () => hasher.verifications);
  const resolver = new CallerResolver({ db, box, accessTokens: accessTokenLookup(db, provider, recordIds), clockToleranceSeconds: settings.JWT_CLOCK_TOLERANCE, issuer: settings.ISSUER });
  return { db, settings, logger, hasher, provider, cookieKeys, signingKeys, box, digests, partnerSecrets, resolver, counters, metrics, partnerClients };
}

/**
 * Answers every request while the server starts: 503, try again in a
 * second. Nothing is wrong, so nothing is logged.
 */
export function startingApp(): Koa {
  const app = new Koa();
  app.use((ctx) => renderProblem(ctx, unavailableFor(ctx.path, 1)));
  app.silent = true;
  return app;
}

/** The platform API's router and the site's (pages, health, metrics, JWKS, …), as the application mounts them. */
export interface Routers {
  api: Router;
  site: Router[];
}

export function routersOf(services: Services, isShuttingDown: () => boolean = () => false): Routers {
  const { db, settings, provider, metrics } = services;
  const csrf = new CsrfGuard(services.cookieKeys[0] as string);
  const loginGuesses = new GuessLimits(services.counters, {
    name: 'login',
    perSubject: settings.LOGIN_MAX_FAILURES_PER_ACCOUNT,
    perAddress: settings.LOGIN_MAX_FAILURES_PER_IP,
    windowSeconds: settings.LOGIN_FAILURE_WINDOW,
  });
  const login = new PasswordLogin(db, services.hasher, loginGuesses, metrics.login);
  const sessions = new OwnerSessions(db, services.digests, settings.DASHBOARD_SESSION_TTL, provider);
  const flashes = new PageFlashes(db, services.box);
  const api = apiRouter({ db, box: services.box, resolver: services.resolver, issuer: settings.ISSUER, keyEvents: metrics.keyEvents, partnerClients: services.partnerClients });
  const site = [
    // With a listener of its own (server.ts), /metrics is not on the public one.
    ...(settings.METRICS_PORT === undefined ? [metrics.router(settings.METRICS_TOKEN)] : []),
    healthRouter(db, isShuttingDown),
    jwksRouter(services.signingKeys, settings),
    assetsRouter(),
    interactionRouter({ db, settings, provider, login, csrf, sessions }),
    revokeAuthorizationRouter(db, services.resolver),
    eventExportRouter(db, settings.EVENTS_EXPORT_TOKEN),
    openApiRouter(settings.ISSUER),
    dashboardRouter({ db, settings, login, csrf, sessions, box: services.box, keyEvents: metrics.keyEvents, flashes }),
    portalRouter({ db, settings, partnerSecrets: services.partnerSecrets, csrf, sessions, flashes }),
  ];
  return { api, site };
}

/** A route: its path pattern (`:name` for a parameter) and the methods it takes. */
export interface Route {
  path: string;
  methods: string[];
}

/** Every route the server answers: the engine's endpoints and each router's, read from the routers themselves. */
export function routeTable(routers: Routers): Route[] {
  const engine = [
    ...[...engineMethods].map(([path, methods]) => ({ path, methods })),
    { path: '/.well-known/oauth-authorization-server', methods: ['GET'] },
    { path: `${oauthRoutes.authorization}/:uid`, methods: ['GET'] },
  ];
  const routed = [routers.api, ...routers.site].flatMap((router) =>
    router.stack
      .filter((layer) => layer.methods.length && typeof layer.path === 'string')
      .map((layer) => ({ path: layer.path as string, methods: layer.methods.filter((method) => method !== 'HEAD') })),
  );
  return [...engine, ...routed];
}

export function createKoaApplication(services: Services, isShuttingDown: () => boolean = () => false): Koa {
  const { settings, logger, provider, metrics } = services;
  // Koa reads X-Forwarded-Proto/Host only when proxies are trusted, and resolveClientAddress removes them from any other peer.
  const application = new Koa({ proxy: settings.TRUST_PROXY.kind !== 'none', keys: services.cookieKeys });
  const { api, site: siteRouters } = routersOf(services, isShuttingDown);
  const bodyLimits = { formBytes: 64 * 1024, jsonBytes: 256 * 1024 };
  // Bodies are decoded, bounded and depth-checked (request-body.ts) before the parser sees them.
  const parseBody = compose<Context>([
    boundRequestBodies(bodyLimits),
    bodyParser({ enableTypes: ['form', 'json'], formLimit: bodyLimits.formBytes, jsonLimit: bodyLimits.jsonBytes }) as Middleware,
  ]);

  // The platform API answers JSON only and is most of the traffic: it gets
  // its own short stack, without the page, engine and site routing steps.
  const apiStack = compose<Context>([
    refuseNulInUrl,
    parseBody,
    refuseNulInBody,
    apiCors(settings.CORS_ORIGINS),
    renderProblems,
    explainUnanswered,
    api.routes(),
    api.allowedMethods(),
  ] as Middleware[]);
  const siteStack = compose<Context>([
    pageHeaders,
    refuseNulInUrl,
    engine(provider, settings.ISSUER),
    parseBody,
    refuseNulInBody,
    explainUnanswered,
    ...siteRouters.flatMap((router) => [router.routes(), router.allowedMethods()]),
  ] as Middleware[]);

  application.use(refuseUnreadableTarget);
  application.use(resolveClientAddress(settings.TRUST_PROXY));
  if (settings.production) application.use(strictTransportSecurity);
  application.use(requestLog(logger, metrics));
  application.use(errorBoundary(logger));
  application.use(refuseMalformedHost);
  application.use(answerDatabaseUnavailable);
  application.use(keepRequestReads);
  application.use((ctx, next) => (isApiPath(ctx.path) ? apiStack(ctx, next) : siteStack(ctx, next)));
  application.silent = true;
  return application;
}
