import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import pg from 'pg';
import { classifyDatabaseError } from './unavailable.ts';

/**
 * A statement on the hot paths (token exchange, introspection, API
 * credentials), written once in SQL with $1, $2… placeholders.
 *
 * Knex builds and compiles every query anew, and PostgreSQL parses and plans
 * every unnamed statement anew; on a request that costs a few hundred
 * microseconds per statement it is most of the request. Here the text is
 * fixed, the statement is prepared once per connection under its name and
 * PostgreSQL keeps its plan. PGlite (one in-process connection) takes the
 * same text directly.
 *
 * Behind a transaction pooler (PgBouncer in pool_mode=transaction, before
 * 1.21's max_prepared_statements) a connection of ours meets a different
 * server session at each transaction: a statement prepared on one is missing
 * on the next ("prepared statement … does not exist") or already there
 * ("… already exists"). Neither error runs anything, so the first one
 * switches this database to unnamed statements for good and the statement
 * is sent again, unnamed; DATABASE_NAMED_STATEMENTS=false starts that way.
 * The name on the server carries a digest of the text, so that two versions
 * of appgrant sharing pooled sessions during an upgrade never run each
 * other's statements.
 */
export interface Statement {
  name: string;
  text: string;
  /** The name PostgreSQL keeps the prepared statement under. */
  serverName: string;
}

export type Row = Record<string, unknown>;

interface PGliteConnection {
  query(text: string, values: unknown[]): Promise<{ rows: Row[] }>;
}

const preparedNames = new Set<string>();

/** A named statement; each name may stand for one text only. */
export function statement(name: string, text: string): Statement {
  if (preparedNames.has(name)) throw new Error(`statement ${name} is defined twice`);
  preparedNames.add(name);
  return { name, text, serverName: `${name}_${createHash('sha256').update(text).digest('hex').slice(0, 12)}` };
}

/** The knex clients whose statements go unnamed. */
const unnamedClients = new WeakSet<Knex.Client>();

/** From now on, this database's statements are sent without a server-side name. */
export function useUnnamedStatements(db: Knex): void {
  unnamedClients.add(db.client);
}

/** 26000: "prepared statement … does not exist"; 42P05: "… already exists". */
const isLostPreparedStatement = (error: unknown) => ['26000', '42P05'].includes((error as { code?: string }).code ?? '');

async function runOnConnection(db: Knex, connection: unknown, { serverName, text }: Statement, values: unknown[]): Promise<Row[]> {
  // pg's Client takes a query config; PGlite, the text and its values.
  if (!(connection instanceof pg.Client)) return (await (connection as PGliteConnection).query(text, values)).rows;
  if (unnamedClients.has(db.client)) return (await connection.query<Row>({ text, values })).rows;
  try {
    return (await connection.query<Row>({ name: serverName, text, values })).rows;
  } catch (error) {
    if (!isLostPreparedStatement(error)) throw error;
    useUnnamedStatements(db);
    return (await connection.query<Row>({ text, values })).rows;
  }
}

/** Runs a statement on a pooled connection (never inside a transaction) and returns its rows. */
export async function runStatement(db: Knex, prepared: Statement, values: unknown[]): Promise<Row[]> {
  if (db.isTransaction) throw new Error(`statement ${prepared.name} cannot run inside a transaction`);
  // Knex's own "query" event, so that whoever watches the queries (debugging, the bench's census) sees these too.
  db.client.emit('query', { sql: prepared.text, bindings: values, statement: prepared.name });
  const connection: unknown = await db.client.acquireConnection();
  try {
    return await runOnConnection(db, connection, prepared, values);
  } catch (error) {
    throw classifyDatabaseError(error);
  } finally {
    await db.client.releaseConnection(connection);
  }
}
