import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import type { Server as NetServer } from 'node:net';
import type { Settings } from '../config/settings.ts';
import type { Logger } from '../log/logger.ts';
import { announceControlSocket, whileDataDirBusy } from '../db/data-dir-lock.ts';
import { migrateToLatest, openDatabase, type Database } from '../db/database.ts';
import { sweepExpiredRecords } from '../oauth/storage/adapter.ts';
import { controlSocketPath, listenForCommands } from '../cli/control-socket.ts';
import { createKoaApplication, createServices } from './app.ts';
import { demoBanner, seedDemo } from './demo.ts';
import { NoticeSigner, RemovalNoticeWorker } from '../notices/removal-notices.ts';

export interface RunningServer {
  url: string;
  issuer: string;
  database: Database;
  /** Stops taking connections, lets in-flight requests finish, then closes the database. */
  close(): Promise<void>;
}

export interface StartOptions {
  settings: Settings;
  logger: Logger;
  /** An already open database (tests); otherwise one is opened from the settings. */
  database?: Database;
  /** Where the demo banner goes (stdout for npm start). */
  announce?: (text: string) => void;
}

const sweepIntervalMs = 10 * 60 * 1000;

function listen(server: Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise((done, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => done(server.address() as AddressInfo));
  });
}

/** Migrates, seeds the demo outside production, and serves until close(). */
export async function startServer(options: StartOptions): Promise<RunningServer> {
  const { logger } = options;
  // An operator's CLI run may hold the embedded database for a moment.
  const database =
    options.database ??
    (await whileDataDirBusy(() => openDatabase({ databaseUrl: options.settings.DATABASE_URL, dataDir: options.settings.DATA_DIR })));
  const db = database.knex;
  const applied = await migrateToLatest(db);
  if (applied.length) logger.info({ applied }, 'migrations applied');

  const http = createServer({ requestTimeout: 30_000, headersTimeout: 10_000 });
  const address = await listen(http, options.settings.PORT, options.settings.HOST);
  const port = address.port;
  // The issuer is known once the port is: PORT=0 (tests) picks a free one.
  const settings = { ...options.settings, ISSUER: options.settings.ISSUER.replace(/:0$/, `:${port}`) };

  const services = await createServices(db, settings, logger);
  const seedsDemo = options.settings.SEED_DEMO ?? !settings.production;
  if (seedsDemo && (await seedDemo(db, services.hasher))) options.announce?.(demoBanner(settings.ISSUER));

  let shuttingDown = false;
  const application = createKoaApplication(services, () => shuttingDown);
  http.on('request', application.callback());

  let control: NetServer | undefined;
  if (database.mode === 'pglite' && !options.database) {
    const socketPath = controlSocketPath(resolve(settings.DATA_DIR));
    control = await listenForCommands(socketPath, { db, settings, hasher: services.hasher, box: async () => services.box }, logger);
    announceControlSocket(resolve(settings.DATA_DIR), socketPath);
  }

  const notices = new RemovalNoticeWorker(
    db,
    new NoticeSigner(services.signingKeys),
    {
      pollIntervalMs: settings.NOTICE_POLL_INTERVAL_MS,
      retryBaseMs: settings.NOTICE_RETRY_BASE_MS,
      maxAttempts: settings.NOTICE_MAX_ATTEMPTS,
      timeoutMs: settings.NOTICE_TIMEOUT_MS,
    },
    logger,
  );
  notices.start();

  const sweeper = setInterval(() => {
    sweepExpiredRecords(db).catch((error: unknown) => logger.warn({ err: error }, 'expired record sweep failed'));
  }, sweepIntervalMs);
  sweeper.unref();
  // Throttling counts are swept as their windows end: at least once per window, at most once a second.
  const counterSweeper = setInterval(() => {
    services.counters.sweepExpired().catch((error: unknown) => logger.warn({ err: error }, 'throttle count sweep failed'));
  }, Math.min(60, settings.LOGIN_FAILURE_WINDOW) * 1000);
  counterSweeper.unref();

  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address === '0.0.0.0' ? '127.0.0.1' : address.address}:${port}`;
  logger.info({ url, issuer: settings.ISSUER, database: database.mode }, 'appgrant listening');

  return {
    url,
    issuer: settings.ISSUER,
    database,
    close: async () => {
      shuttingDown = true;
      clearInterval(sweeper);
      clearInterval(counterSweeper);
      control?.close();
      const closed = new Promise<void>((done) => http.close(() => done()));
      http.closeIdleConnections();
      const grace = setTimeout(() => http.closeAllConnections(), settings.SHUTDOWN_GRACE * 1000);
      await closed;
      clearTimeout(grace);
      await notices.stop();
      await services.counters.close();
      services.signingKeys.stop();
      await database.close();
    },
  };
}
