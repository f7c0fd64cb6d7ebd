import type { Knex } from 'knex';
import pg from 'pg';

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
 */
export interface Statement {
  name: string;
  text: string;
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
  return { name, text };
}

/** Runs a statement on a pooled connection (never inside a transaction) and returns its rows. */
export async function runStatement(db: Knex, { name, text }: Statement, values: unknown[]): Promise<Row[]> {
  if (db.isTransaction) throw new Error(`statement ${name} cannot run inside a transaction`);
  // Knex's own "query" event, so that whoever watches the queries (debugging, the bench's census) sees these too.
  db.client.emit('query', { sql: text, bindings: values, statement: name });
  const connection: unknown = await db.client.acquireConnection();
  try {
    // pg's Client takes a query config; PGlite, the text and its values.
    const result =
      connection instanceof pg.Client
        ? await connection.query<Row>({ name, text, values })
        : await (connection as PGliteConnection).query(text, values);
    return result.rows;
  } finally {
    await db.client.releaseConnection(connection);
  }
}
