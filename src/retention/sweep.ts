import type { Knex } from 'knex';
import type { Settings } from '../config/settings.ts';
import type { Logger } from '../log/logger.ts';
import { retentionRules, type RetentionRule, type RetentionSettings } from './rules.ts';

/**
 * The retention sweep: deletes what every table keeps past its retention
 * (rules.ts), a batch at a time, by one instance at a time.
 *
 * Each batch is its own short transaction that first takes a transaction-
 * level advisory lock: no session state, so it works behind a
 * transaction-pooling PgBouncer, and no statement holds a table long. A
 * sweeper that finds the lock taken stops there and leaves the rest to the
 * instance holding it, so two sweepers never repeat each other's work.
 */

export interface RetentionReport {
  /** Rows removed, per rule name (rules.ts). */
  removed: Record<string, number>;
  total: number;
  /** False when another instance was sweeping and this one left the rest to it. */
  complete: boolean;
}

export interface SweepOptions extends RetentionSettings {
  /** Rows one statement deletes at most. */
  batch: number;
  now?: Date;
}

const sweepLock = 'appgrant retention sweep';

/** Deletes at most one batch of a rule's rows, if no other sweeper holds the lock; undefined when one does. */
async function sweepBatch(db: Knex, rule: RetentionRule, options: SweepOptions, now: Date): Promise<number | undefined> {
  return db.transaction(async (trx): Promise<number | undefined> => {
    const { rows } = (await trx.raw('select pg_try_advisory_xact_lock(hashtext(?)) as locked', [sweepLock])) as { rows: Array<{ locked: boolean }> };
    if (!rows[0]?.locked) return undefined;
    const batch = rule.due(trx(rule.table).select(rule.key), now, options).limit(options.batch);
    const [first] = rule.key as [string];
    const target = rule.key.length === 1 ? trx(rule.table).whereIn(first, batch) : trx(rule.table).whereIn(rule.key, batch);
    // The deleted keys are counted (the embedded database's driver reports no row count).
    return (await target.delete().returning(first)).length;
  });
}

/** Runs every rule until nothing is left past its retention (or another instance takes over); says what went. */
export async function sweepRetention(db: Knex, options: SweepOptions): Promise<RetentionReport> {
  const now = options.now ?? new Date();
  const removed: Record<string, number> = Object.fromEntries(retentionRules.map((rule) => [rule.name, 0]));
  const report = (complete: boolean) => ({ removed, total: Object.values(removed).reduce((sum, count) => sum + count, 0), complete });
  for (const rule of retentionRules) {
    for (;;) {
      const deleted = await sweepBatch(db, rule, options, now);
      if (deleted === undefined) return report(false);
      removed[rule.name] = (removed[rule.name] ?? 0) + deleted;
      if (deleted < options.batch) break;
    }
  }
  return report(true);
}

/** The first sweep runs this soon after start, so a restarted fleet never waits a whole interval. */
const firstSweepDelayMs = 5000;

/**
 * Sweeps soon after start, then every `intervalSeconds`, on every instance
 * (the lock makes one of them do each batch). stop() waits for a sweep in
 * progress, so the database is never closed under it.
 */
export function startRetentionSweeps(db: Knex, options: SweepOptions & { intervalSeconds: number }, logger: Logger): { stop(): Promise<void> } {
  let running: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const schedule = (delayMs: number) => {
    timer = setTimeout(() => {
      running = sweepRetention(db, options)
        .then((report) => {
          if (report.total) logger.info({ removed: report.removed, complete: report.complete }, 'retention sweep removed rows');
        })
        .catch((error: unknown) => logger.warn({ err: error }, 'retention sweep failed'))
        .finally(() => {
          running = undefined;
          if (!stopped) schedule(options.intervalSeconds * 1000);
        });
    }, delayMs);
    timer.unref();
  };
  schedule(Math.min(firstSweepDelayMs, options.intervalSeconds * 1000));
  return {
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}

/** The sweep's options from the settings. */
export function sweepOptionsFrom(settings: Settings): SweepOptions & { intervalSeconds: number } {
  return { ...settings, batch: settings.RETENTION_SWEEP_BATCH, intervalSeconds: settings.RETENTION_SWEEP_INTERVAL };
}
