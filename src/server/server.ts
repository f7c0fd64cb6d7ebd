import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Server as NetServer } from 'node:net';
import type { Settings } from '../config/settings.ts';
import type { Logger } from '../log/logger.ts';
import { announceControlSocket, whileDataDirBusy } from '../db/data-dir-lock.ts';
import { databaseOptionsFrom, migrateToLatest, openDatabase, type Database } from '../db/database.ts';
import { startRetentionSweeps, sweepOptionsFrom } from '../retention/sweep.ts';
import { controlSocketPath, listenForCommands } from '../cli/control-socket.ts';
import { createKoaApplication, createServices, startingApp, type Services } from './app.ts';
import { passwordHasherFor } from '../accounts/password-hasher.ts';
import { demoBanner, seedDemo } from './demo.ts';
import { partnerSecretsFor } from '../partners/partner-secrets.ts';
import { NoticeSigner, RemovalNoticeWorker } from '../notices/removal-notices.ts';
import { OutboundClient } from '../outbound/client.ts';
import { outboundPolicy } from '../outbound/targets.ts';
import { shapeParserRefusals } from '../http/client-errors.ts';

export interface RunningServer {
  url: string;
  issuer: string;
  /** Where /metrics is served when it has a listener of its own (METRICS_PORT). */
  metricsUrl?: string;
  database: Database;
  /**
   * Stops: /readyz answers 503 for `drainSeconds` while requests are still
   * served (so that a load balancer stops sending new ones), then no new
   * connection is taken, in-flight requests get SHUTDOWN_GRACE to finish,
   * and the database is closed.
   */
  close(options?: { drainSeconds?: number }): Promise<void>;
}

export interface StartOptions {
  settings: Settings;
  logger: Logger;
  /** An already open database (tests); otherwise one is opened from the settings. */
  database?: Database;
  /** Where the demo banner goes (stdout for npm start). */
  announce?: (text: string) => void;
}

function listen(server: Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise((done, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => done(server.address() as AddressInfo));
  });
}

type RequestHandler = (request: IncomingMessage, response: ServerResponse) => void;

/**
 * The HTTP listener, answering 503 with Retry-After (startingApp) until
 * serve() hands it the application. While stopping, every answer closes
 * its connection: the client's next request opens one elsewhere.
 */
async function startListener(settings: Settings) {
  const http = createServer({ requestTimeout: 30_000, headersTimeout: 10_000 });
  shapeParserRefusals(http);
  let handle: RequestHandler = startingApp().callback();
  const state = { stopping: false };
  http.on('request', (request: IncomingMessage, response: ServerResponse) => {
    if (state.stopping) response.setHeader('Connection', 'close');
    handle(request, response);
  });
  const address = await listen(http, settings.PORT, settings.HOST);
  return {
    http,
    address,
    state,
    serve: (handler: RequestHandler) => {
      handle = handler;
    },
  };
}

/** The removal-notice worker and the retention sweeps (src/retention); stop() ends them. */
function startBackgroundWork(services: Services, logger: Logger) {
  const { db, settings } = services;
  const notices = new RemovalNoticeWorker(
    db,
    new NoticeSigner(services.signingKeys),
    new OutboundClient({ ...outboundPolicy(settings), proxyUrl: settings.OUTBOUND_PROXY_URL }),
    {
      pollIntervalMs: settings.NOTICE_POLL_INTERVAL_MS,
      retryBaseMs: settings.NOTICE_RETRY_BASE_MS,
      maxAttempts: settings.NOTICE_MAX_ATTEMPTS,
      timeoutMs: settings.NOTICE_TIMEOUT_MS,
    },
    logger,
    services.metrics.noticeDelivery,
  );
  notices.start();
  const sweeps = startRetentionSweeps(db, sweepOptionsFrom(settings), logger);
  return {
    stop: async () => {
      await sweeps.stop();
      await notices.stop();
    },
  };
}

/** An address to reach a listener at from this machine. */
function localUrl(address: AddressInfo): string {
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address === '0.0.0.0' ? '127.0.0.1' : address.address;
  return `http://${host}:${address.port}`;
}

/** /metrics on a listener of its own (METRICS_PORT, METRICS_HOST), off the public one. */
async function listenForMetrics(services: Services, port: number, logger: Logger): Promise<{ url: string; close(): void }> {
  const { settings } = services;
  const listener = createServer({ requestTimeout: 10_000, headersTimeout: 5_000 }, services.metrics.standaloneApp(settings.METRICS_TOKEN, logger).callback());
  shapeParserRefusals(listener);
  const url = localUrl(await listen(listener, port, settings.METRICS_HOST));
  logger.info({ url }, 'metrics listening');
  return {
    url,
    close: () => {
      listener.close();
      listener.closeAllConnections();
    },
  };
}

/**
 * Opens the database, migrates it and seeds the demo outside production,
 * then takes the port, builds the services and serves until close().
 *
 * Nothing listens while the database opens: the embedded one runs on this
 * thread and blocks it for seconds at a time, so a connection accepted then
 * would wait unanswered; refused, the client knows at once. From the moment
 * the port is taken (PORT=0 picks a free one, and the issuer names it)
 * every connection is answered: 503 with Retry-After until the service is
 * ready.
 */
export async function startServer(options: StartOptions): Promise<RunningServer> {
  const { logger } = options;
  const { database, demoSeeded } = await openMigrated(options);
  let listener;
  let services;
  let settings = options.settings;
  try {
    listener = await startListener(options.settings);
    // The issuer is known once the port is: PORT=0 (tests) picks a free one.
    settings = { ...settings, ISSUER: settings.ISSUER.replace(/:0$/, `:${listener.address.port}`) };
    services = await createServices(database.knex, settings, logger);
  } catch (error) {
    listener?.http.close();
    listener?.http.closeAllConnections();
    if (!options.database) await database.close();
    throw error;
  }
  const { http, address, state } = listener;
  listener.serve(createKoaApplication(services, () => state.stopping).callback());
  if (demoSeeded) options.announce?.(demoBanner(settings.ISSUER));

  let control: NetServer | undefined;
  if (database.mode === 'pglite' && !options.database) {
    const socketPath = controlSocketPath(resolve(settings.DATA_DIR));
    const { hasher, box, metrics } = services;
    control = await listenForCommands(socketPath, { db: database.knex, settings, hasher, box: async () => box, keyEvents: metrics.keyEvents }, logger);
    announceControlSocket(resolve(settings.DATA_DIR), socketPath);
  }
  const background = startBackgroundWork(services, logger);

  const url = localUrl(address);
  logger.info({ url, issuer: settings.ISSUER, database: database.mode }, 'appgrant listening');
  const metrics = settings.METRICS_PORT === undefined ? undefined : await listenForMetrics(services, settings.METRICS_PORT, logger);

  return {
    url,
    issuer: settings.ISSUER,
    ...(metrics ? { metricsUrl: metrics.url } : {}),
    database,
    close: async ({ drainSeconds = 0 } = {}) => {
      state.stopping = true;
      if (drainSeconds > 0) {
        logger.info({ seconds: drainSeconds }, 'draining: /readyz answers 503, requests are still served');
        await sleep(drainSeconds * 1000);
      }
      metrics?.close();
      control?.close();
      const closed = new Promise<void>((done) => http.close(() => done()));
      http.closeIdleConnections();
      const grace = setTimeout(() => http.closeAllConnections(), settings.SHUTDOWN_GRACE * 1000);
      await closed;
      clearTimeout(grace);
      await background.stop();
      await services.counters.close();
      services.signingKeys.stop();
      await database.close();
    },
  };
}

/** The database, opened from the settings unless given, migrated, with the demo seeded outside production. */
async function openMigrated(options: StartOptions): Promise<{ database: Database; demoSeeded: boolean }> {
  const { settings, logger } = options;
  // An operator's CLI run may hold the embedded database for a moment.
  const database = options.database ?? (await whileDataDirBusy(() => openDatabase(databaseOptionsFrom(settings))));
  try {
    const applied = await migrateToLatest(database.knex);
    if (applied.length) logger.info({ applied }, 'migrations applied');
    // The demo's owner password and partner secret are published in the README: never in production.
    const seedsDemo = !settings.production && (settings.SEED_DEMO ?? true);
    const demoSeeded = seedsDemo && (await seedDemo(database.knex, passwordHasherFor(settings), await partnerSecretsFor(database.knex, settings.KEY_ENCRYPTION_KEYS), settings));
    return { database, demoSeeded };
  } catch (error) {
    if (!options.database) await database.close();
    throw error;
  }
}
