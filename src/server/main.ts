import { loadSettings, SettingsError } from '../config/settings.ts';
import { DataDirBusyError } from '../db/data-dir-lock.ts';
import { createLogger, StandardOutput } from '../log/logger.ts';
import { startServer } from './server.ts';

/**
 * `npm start`: configuration, then migrate and serve until SIGTERM or
 * SIGINT. Stopping drains (SHUTDOWN_DRAIN), lets in-flight requests finish
 * (SHUTDOWN_GRACE) and exits; whatever still holds it up then (a database
 * that does not answer its goodbye) does not keep the process: it exits at
 * the latest one second after drain and grace.
 */
async function main(): Promise<void> {
  let settings;
  try {
    settings = loadSettings();
  } catch (error) {
    if (!(error instanceof SettingsError)) throw error;
    process.stderr.write(`appgrant: ${error.message}\n`);
    process.exit(2);
  }
  const output = new StandardOutput();
  const logger = createLogger(settings.LOG_LEVEL, output.stream);
  const exit: (code: number) => never = (code) => {
    output.flushBeforeExit();
    process.exit(code);
  };
  let server;
  try {
    server = await startServer({ settings, logger, announce: (text) => process.stdout.write(`${text}\n`) });
  } catch (error) {
    if (error instanceof DataDirBusyError) {
      logger.fatal(`the data folder ${settings.DATA_DIR} is in use by process ${error.owner.pid}`);
    } else {
      logger.fatal({ err: error }, 'appgrant failed to start');
    }
    exit(1);
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    const { SHUTDOWN_DRAIN: drainSeconds, SHUTDOWN_GRACE: graceSeconds } = settings;
    logger.info({ signal, drainSeconds, graceSeconds }, 'shutting down');
    setTimeout(() => {
      logger.error('shutdown took longer than drain and grace: exiting now');
      exit(1);
    }, (drainSeconds + graceSeconds + 1) * 1000);
    server.close({ drainSeconds }).then(
      () => {
        logger.info('stopped');
        exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

await main();
