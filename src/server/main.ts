import { loadSettings, SettingsError } from '../config/settings.ts';
import { DataDirBusyError } from '../db/data-dir-lock.ts';
import { createLogger } from '../log/logger.ts';
import { startServer } from './server.ts';

/** `npm start`: configuration, then migrate and serve until SIGTERM or SIGINT. */
async function main(): Promise<void> {
  let settings;
  try {
    settings = loadSettings();
  } catch (error) {
    if (!(error instanceof SettingsError)) throw error;
    process.stderr.write(`appgrant: ${error.message}\n`);
    process.exit(2);
  }
  const logger = createLogger(settings.LOG_LEVEL);
  let server;
  try {
    server = await startServer({ settings, logger, announce: (text) => process.stdout.write(`${text}\n`) });
  } catch (error) {
    if (error instanceof DataDirBusyError) {
      logger.fatal(`the data folder ${settings.DATA_DIR} is in use by process ${error.owner.pid}`);
    } else {
      logger.fatal({ err: error }, 'appgrant failed to start');
    }
    process.exit(1);
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: finishing in-flight requests');
    server.close().then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

await main();
