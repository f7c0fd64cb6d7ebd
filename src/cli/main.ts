import { resolve } from 'node:path';
import { loadSettings, SettingsError, type Settings } from '../config/settings.ts';
import { DataDirBusyError, readLockOwner, whileDataDirBusy } from '../db/data-dir-lock.ts';
import { databaseOptionsFrom, migrateToLatest, openDatabase } from '../db/database.ts';
import { passwordHasherFor } from '../accounts/password-hasher.ts';
import { eventBatch, parseCommand, runCommand, UsageError } from './commands.ts';
import { sendCommand, type ControlReply } from './control-socket.ts';
import { SecretBox } from '../keys/secret-box.ts';
import { loadKeyEncryptionKeys } from '../keys/server-keys.ts';

/**
 * appgrant <command>: prints one JSON document on stdout. Exit codes: 0 done,
 * 1 failed, 2 the command line or its input was wrong.
 */
async function runLocally(settings: Settings, argv: string[]): Promise<unknown> {
  const db = await openDatabase({ ...databaseOptionsFrom(settings), poolMax: 2 });
  try {
    const [, pending] = (await db.knex.migrate.list()) as [unknown[], unknown[]];
    if (pending.length && argv[0] !== 'migrate') {
      // The embedded database belongs to this machine: bring it up to date. A
      // shared PostgreSQL is migrated only when the operator says so.
      if (db.mode !== 'pglite') throw new Error('the database schema is not up to date: run `appgrant migrate` first');
      await migrateToLatest(db.knex);
    }
    const box = async () => new SecretBox(await loadKeyEncryptionKeys(db.knex, settings.KEY_ENCRYPTION_KEYS));
    return await runCommand({ db: db.knex, settings, hasher: passwordHasherFor(settings), box }, argv);
  } finally {
    await db.close();
  }
}

/** With the embedded database, a running server executes the command for us. */
async function runThroughServer(settings: Settings, argv: string[]): Promise<ControlReply | undefined> {
  if (settings.DATABASE_URL) return undefined;
  const owner = readLockOwner(resolve(settings.DATA_DIR));
  if (!owner) return undefined;
  if (!owner.controlSocket) throw new DataDirBusyError(owner);
  return sendCommand(owner.controlSocket, argv);
}

/** One command, through a running server where one holds the embedded database, otherwise here. */
async function execute(settings: Settings, argv: string[]): Promise<{ result: unknown } | { failed: number }> {
  const reply = await whileDataDirBusy(() => runThroughServer(settings, argv));
  if (reply && !reply.ok) {
    process.stderr.write(`appgrant: ${reply.error}\n`);
    return { failed: reply.usage ? 2 : 1 };
  }
  return { result: reply ? reply.result : await whileDataDirBusy(() => runLocally(settings, argv)) };
}

const followIntervalMs = 1000;

/**
 * `events` prints one JSON line per event, oldest first, asking again from
 * the last one until none are left; with --follow it keeps asking, once a
 * second, until interrupted.
 */
async function printEvents(settings: Settings, argv: string[]): Promise<number> {
  const follow = argv.includes('--follow');
  const base = argv.filter((argument) => argument !== '--follow');
  let after: string | undefined;
  for (;;) {
    const outcome = await execute(settings, after === undefined ? base : [...base, '--after', after]);
    if ('failed' in outcome) return outcome.failed;
    const { events } = outcome.result as { events: { id: string }[] };
    for (const event of events) process.stdout.write(`${JSON.stringify(event)}\n`);
    after = events.at(-1)?.id ?? after;
    if (events.length === eventBatch) continue;
    if (!follow) return 0;
    await new Promise((wake) => setTimeout(wake, followIntervalMs));
  }
}

async function main(argv: string[]): Promise<number> {
  try {
    const settings = loadSettings();
    const { name } = parseCommand(argv);
    if (name === 'events') return await printEvents(settings, argv);
    const outcome = await execute(settings, argv);
    if ('failed' in outcome) return outcome.failed;
    process.stdout.write(`${JSON.stringify(outcome.result, null, 2)}\n`);
    return 0;
  } catch (error) {
    if (error instanceof UsageError || error instanceof SettingsError) {
      process.stderr.write(`appgrant: ${error.message}\n`);
      return 2;
    }
    if (error instanceof DataDirBusyError) {
      process.stderr.write(`appgrant: the embedded database is busy (process ${error.owner.pid}); try again in a moment\n`);
      return 1;
    }
    process.stderr.write(`appgrant: ${(error as Error).message}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
