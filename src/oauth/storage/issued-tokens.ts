import { AsyncLocalStorage } from 'node:async_hooks';
import type { Knex } from 'knex';
import type { Context, Next } from 'koa';
import { runStatement, statement } from '../../db/statements.ts';

/**
 * A token request issues an access token and a refresh token, and the
 * engine saves them one after the other: two statements, two commits. Here
 * they are held while the engine works and written together, in one
 * statement, once it has answered and before the answer leaves. So a
 * partner never holds a token that is not stored, and a token request that
 * fails after the first save (an error before the second) leaves nothing
 * behind. Only these two kinds are held, only at the token endpoint, and
 * only for the request that issued them; the code or refresh token presented
 * is still consumed at once, by its own statement, which is what keeps it
 * single-use under concurrency.
 */

/** One row of oauth_records, as the adapter writes it. */
export interface RecordRow {
  kind: string;
  id: string;
  /** JSON text. */
  payload: string;
  grantId: string | null;
  uid: string | null;
  userCode: string | null;
  expiresAt: Date | null;
  idDigested: boolean;
}

const heldKinds = new Set(['AccessToken', 'RefreshToken']);
const heldRows = new AsyncLocalStorage<Map<string, RecordRow>>();

/** Held for the end of the current token request; false when there is none (the caller writes it now). */
export function holdIssuedToken(row: RecordRow): boolean {
  const held = heldKinds.has(row.kind) ? heldRows.getStore() : undefined;
  if (!held) return false;
  // A second save of one token replaces the first, as the upsert would.
  held.set(`${row.kind}\0${row.id}`, row);
  return true;
}

// Any number of rows in one statement: the columns as arrays (the ISO text of each expiry, so both drivers send it alike).
// A PL/pgSQL function (migration 20261208000002), whose plan is kept even when the call goes unnamed.
const writeRows = statement('oauth_records_write_issued', 'select appgrant_write_issued($1, $2, $3, $4, $5, $6, $7, $8)');

async function writeIssued(db: Knex, rows: RecordRow[]): Promise<void> {
  await runStatement(db, writeRows, [
    rows.map((row) => row.kind),
    rows.map((row) => row.id),
    rows.map((row) => row.payload),
    rows.map((row) => row.grantId),
    rows.map((row) => row.uid),
    rows.map((row) => row.userCode),
    rows.map((row) => row.expiresAt?.toISOString() ?? null),
    rows.map((row) => row.idDigested),
  ]);
}

/**
 * Engine middleware for the token endpoint: holds the tokens the request
 * issues and writes them when the engine has answered with them (200). An
 * error answer delivered no token, so none is written.
 */
export function writeIssuedTokensTogether(db: Knex, tokenPath: string) {
  return async function writeIssuedTokens(ctx: Context, next: Next): Promise<void> {
    if (ctx.method !== 'POST' || ctx.path !== tokenPath) return next();
    const held = new Map<string, RecordRow>();
    await heldRows.run(held, next);
    if (ctx.status === 200 && held.size) await writeIssued(db, [...held.values()]);
  };
}
