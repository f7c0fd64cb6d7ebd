/**
 * "The database cannot answer right now", told apart from every other
 * database error where it happens, so that whoever answers the request can
 * say 503 and when to try again instead of 500.
 *
 * The error carries the conventions both of its renderers read: Koa's
 * (`status`, `expose`, `headers`) for appgrant's own routes, and
 * oidc-provider's (`statusCode`, `expose`, the message as the OAuth error
 * code, `error_description`), so that the token, introspection and
 * revocation endpoints answer RFC 6749's `temporarily_unavailable` (section
 * 4.1.2.1) in their own error shape without knowing about databases.
 */
/** What a client is told to wait: long enough for a restarting database or a failover, short enough not to lose the user. */
export const databaseRetryAfterSeconds = 5;

export class DatabaseUnavailableError extends Error {
  readonly status = 503;
  readonly statusCode = 503;
  readonly expose = true;
  readonly error_description = 'The service is temporarily unavailable. Please try again shortly.';
  readonly headers: Record<string, string>;

  constructor(cause: unknown) {
    super('temporarily_unavailable', { cause });
    this.name = 'DatabaseUnavailableError';
    this.headers = { 'Retry-After': String(databaseRetryAfterSeconds) };
  }
}

/** Socket errors: the server is not there, went away, or cannot be reached. */
const unreachableCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * SQLSTATEs meaning "not now" rather than "not this": class 08 (connection
 * exceptions, which is also how PgBouncer reports a pool it cannot serve:
 * 08P01 "query_wait_timeout", "server login has been failing", "no more
 * connections allowed"), 53 (insufficient resources: too many connections,
 * out of memory or disk), 57P01–57P03 (shutting down, crashed, starting up)
 * and 57014 (a statement cancelled, e.g. by a server-side statement_timeout).
 */
function isTransientSqlState(code: string): boolean {
  return code.startsWith('08') || code.startsWith('53') || ['57P01', '57P02', '57P03', '57014'].includes(code);
}

/**
 * Errors the pg driver and knex raise without a code: a connection that
 * ended, a deadline that passed. knex puts the failed SQL in front of a
 * query's message, so only the end is matched.
 */
const unavailableMessages = [
  /Connection terminated( unexpectedly| due to connection timeout)?$/,
  /timeout expired$/,
  /Query read timeout$/,
  /is not queryable$/,
  /Knex: Timeout acquiring a connection/,
];

export function isDatabaseUnavailable(error: unknown): boolean {
  if (error instanceof DatabaseUnavailableError) return true;
  if (!(error instanceof Error)) return false;
  if (error.name === 'KnexTimeoutError') return true;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (unreachableCodes.has(code) || (/^[0-9A-Z]{5}$/.test(code) && isTransientSqlState(code)))) return true;
  if (unavailableMessages.some((pattern) => pattern.test(error.message))) return true;
  // A connection error surfaced through another one (AggregateError for several addresses, or a cause).
  if (error instanceof AggregateError) return error.errors.some(isDatabaseUnavailable);
  return error.cause !== undefined && isDatabaseUnavailable(error.cause);
}

/** The error to throw on: unavailability becomes DatabaseUnavailableError, anything else is passed on unchanged. */
export function classifyDatabaseError(error: unknown): unknown {
  return !(error instanceof DatabaseUnavailableError) && isDatabaseUnavailable(error) ? new DatabaseUnavailableError(error) : error;
}
