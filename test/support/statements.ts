import type { Knex } from 'knex';

/**
 * The statements matching `pattern` that the server runs while `send` is in
 * flight (knex's 'query' event, which the prepared statements raise too),
 * with the answer, its body already read so that the request is over.
 */
export async function statementsDuring(db: Knex, pattern: RegExp, send: () => Promise<Response>): Promise<{ response: Response; statements: string[] }> {
  const statements: string[] = [];
  const watch = (query: { sql: string }) => {
    if (pattern.test(query.sql)) statements.push(query.sql);
  };
  db.on('query', watch);
  try {
    const response = await send();
    await response.clone().text();
    return { response, statements };
  } finally {
    db.off('query', watch);
  }
}
