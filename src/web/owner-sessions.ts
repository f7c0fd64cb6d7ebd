import { createHash, randomBytes } from 'node:crypto';
import type { Context, Next } from 'koa';
import type { Knex } from 'knex';
import type { Provider } from 'oidc-provider';
import { findAccount, type Account } from '../accounts/accounts.ts';
import { endEngineSession } from '../oauth/login-sessions.ts';
import type { CsrfGuard } from '../http/csrf.ts';
import { seeOther } from '../http/see-other.ts';
import { rememberLayoutSession } from '../http/render.ts';
import { requestOrigin } from '../http/origin.ts';
import { recordEvent } from '../events/events.ts';
import type { BearerDigests } from '../keys/bearer-digests.ts';

const cookieName = 'appgrant.owner';

/** What the first version stored of a cookie value; the keyed digest is taken of it, so those rows could be converted without their cookie. */
function hashOf(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

/**
 * The dashboard's login sessions: a random cookie value, of which only a
 * keyed digest is stored, so a database leak does not hand out live
 * sessions, nor lets anyone make a row a cookie would match. Logout
 * deletes the row; every instance sees that on the next request.
 *
 * An owner has one session per browser: ending it ends the dashboard's and
 * the engine's (the "Add to app" login) together, whichever page asked
 * (Log out on the dashboard, "Not you?" in the flow), so the next person at
 * a shared computer is asked for a password everywhere.
 */
export class OwnerSessions {
  readonly #db: Knex;
  readonly #digests: BearerDigests;
  readonly #ttlSeconds: number;
  readonly #provider: Provider;

  constructor(db: Knex, digests: BearerDigests, ttlSeconds: number, provider: Provider) {
    this.#db = db;
    this.#digests = digests;
    this.#ttlSeconds = ttlSeconds;
    this.#provider = provider;
  }

  /** The stored forms a cookie value may have, one per digest key. */
  #storedIds(value: string): string[] {
    return this.#digests.candidates(hashOf(value));
  }

  async start(ctx: Context, accountId: string): Promise<void> {
    const value = randomBytes(32).toString('base64url');
    const expiresAt = new Date(Date.now() + this.#ttlSeconds * 1000);
    await this.#db('web_sessions').insert({ id_hash: this.#digests.digest(hashOf(value)), keyed: true, account_id: accountId, expires_at: expiresAt });
    ctx.cookies.set(cookieName, value, { httpOnly: true, sameSite: 'lax', secure: ctx.secure, path: '/', expires: expiresAt, overwrite: true });
  }

  async owner(ctx: Context): Promise<Account | undefined> {
    return (await this.#current(ctx))?.account;
  }

  /** The signed-in account and the stored id of its session row. */
  async #current(ctx: Context): Promise<{ account: Account; sessionId: string } | undefined> {
    const value = ctx.cookies.get(cookieName);
    if (!value) return undefined;
    const session = await this.#db('web_sessions')
      .select('account_id', 'id_hash')
      .whereIn('id_hash', this.#storedIds(value))
      .andWhere('expires_at', '>', new Date())
      .first();
    const account = session ? await findAccount(this.#db, session.account_id) : undefined;
    return account ? { account, sessionId: session.id_hash as string } : undefined;
  }

  /** Ends this browser's owner session everywhere: the dashboard's and the engine's. */
  async end(ctx: Context): Promise<void> {
    const value = ctx.cookies.get(cookieName);
    if (value) {
      await this.#db.transaction(async (trx) => {
        const [ended] = await trx('web_sessions').whereIn('id_hash', this.#storedIds(value)).delete().returning(['account_id']);
        if (ended) {
          const accountId = ended.account_id as string;
          await recordEvent(trx, { type: 'owner.logged_out', actor: { type: 'owner', id: accountId }, accountId, target: { type: 'account', id: accountId }, origin: requestOrigin(ctx) });
        }
      });
    }
    ctx.cookies.set(cookieName, null, { path: '/', overwrite: true });
    await endEngineSession(this.#provider, ctx);
  }

  /**
   * Pages behind login: the owner is loaded into ctx.state.owner, or the
   * browser goes to /login. Given the CSRF guard, the owner is also kept for
   * the layout of any error page the request ends on.
   */
  requireOwner(csrf?: CsrfGuard) {
    return async (ctx: Context, next: Next): Promise<void> => {
      const current = await this.#current(ctx);
      if (!current) return seeOther(ctx, '/login');
      ctx.state.owner = current.account;
      ctx.state.ownerSessionId = current.sessionId;
      if (csrf) rememberLayoutSession(ctx, pageSession(ctx, csrf));
      return next();
    };
  }
}

export function ownerOf(ctx: Context): Account {
  return ctx.state.owner as Account;
}

/** The stored id of the signed-in owner's session (pages behind requireOwner only). */
export function ownerSessionOf(ctx: Context): string {
  return ctx.state.ownerSessionId as string;
}

/** What the layout of a signed-in page shows: who is signed in, and the token its logout form carries. */
export function pageSession(ctx: Context, csrf: CsrfGuard): { email: string; csrfToken: string } {
  return { email: ownerOf(ctx).email, csrfToken: csrf.tokenFor(ctx) };
}

/**
 * Dashboard sessions an earlier version stored as a plain SHA-256 of the
 * cookie get the keyed digest of that hash, which is what a cookie now
 * maps to: they keep working. Idempotent, like the records' conversion.
 */
export async function keyLegacyOwnerSessions(db: Knex, digests: BearerDigests): Promise<void> {
  const rows: { id_hash: string }[] = await db('web_sessions').select('id_hash').where({ keyed: false });
  for (const row of rows) {
    await db('web_sessions').where({ id_hash: row.id_hash, keyed: false }).update({ id_hash: digests.digest(row.id_hash), keyed: true });
  }
}
