import type { Context } from 'koa';
import type { Knex } from 'knex';
import type { KoaContextWithOIDC, Provider } from 'oidc-provider';

/**
 * Ends this browser's login session with the engine (the one an "Add to
 * app" flow signs in to), if it has one: its record is destroyed, so no
 * instance can resume it, and its cookie cleared. The next authorization in
 * this browser asks for a password again.
 */
export async function endEngineSession(provider: Provider, ctx: Context): Promise<void> {
  const cookie = provider.cookieName('session');
  if (!ctx.cookies.get(cookie)) return;
  const session = await provider.Session.get(ctx as unknown as KoaContextWithOIDC);
  await session.destroy();
  ctx.cookies.set(cookie, null, { path: '/', httpOnly: true, sameSite: 'lax', signed: true, overwrite: true });
}

/**
 * Ends another browser's engine session, known by its uid (what an
 * interaction keeps of the session it began in: the session's id is a
 * secret kept only as a digest). The session record is deleted; the cookie
 * that named it then finds nothing, on every instance.
 */
export async function endEngineSessionByUid(db: Knex, uid: string): Promise<void> {
  await db('oauth_records').where({ kind: 'Session', uid }).delete();
}
