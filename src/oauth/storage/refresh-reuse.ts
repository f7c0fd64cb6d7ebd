import type { Knex } from 'knex';
import Provider, { type KoaContextWithOIDC } from 'oidc-provider';
import { ReadKind } from './request-reads.ts';

/**
 * Refresh tokens rotate: each use replaces the token, and a replaced token
 * presented again is a sign of theft (RFC 9700 §4.14.2), so the engine then
 * ends the whole grant. But a partner whose refresh response was lost
 * retries with the token it still holds, and two of its workers may refresh
 * with one token at once; ending the owner's authorization for that would
 * punish the ordinary failures of a network.
 *
 * So a refresh token used less than REFRESH_TOKEN_REUSE_GRACE_SECONDS ago
 * (by the database's clock, the one that marked it used) is honoured again:
 * the adapter shows it to the engine as unused and lets it be consumed a
 * second time, and the engine rotates it as usual. The new refresh token
 * expires when the one issued at its first use does (refreshTokenTtl), so a
 * retry gains no time; its permissions are the grant's, like any token's;
 * and it dies with the authorization like every other. Past the window a
 * reuse is a replay: the engine revokes the grant (cause refresh_replay), the
 * partner is sent a signed notice saying so and the owner's activity says why.
 */

/** When this request's refresh token was first used (epoch seconds), once it is honoured as a retry. */
const firstUses = new ReadKind<number>('refresh-first-use');

/** Whether the engine is handling a refresh_token grant at the token endpoint in this request. */
export function isRefreshGrant(): boolean {
  const oidc = (Provider.ctx as KoaContextWithOIDC | undefined)?.oidc;
  return oidc?.route === 'token' && oidc.params?.grant_type === 'refresh_token';
}

/**
 * When the refresh token stored under one of these ids was used, if that was
 * less than `graceSeconds` ago; undefined when it was not used, is gone, or
 * was used before the window.
 */
export async function firstUseWithinGrace(db: Knex, storedIds: string[], graceSeconds: number): Promise<number | undefined> {
  if (graceSeconds <= 0) return undefined;
  const row = (await db('oauth_records')
    .first(db.raw('floor(extract(epoch from consumed_at))::float8 as used_at'))
    .where({ kind: 'RefreshToken' })
    .whereIn('id', storedIds)
    .andWhereRaw('consumed_at > now() - make_interval(secs => ?)', [graceSeconds])) as { used_at: number } | undefined;
  return row ? Number(row.used_at) : undefined;
}

/** The refresh token `jti` is being consumed again within the window: its rotation must not outlive the first one's. */
export function rememberRetry(jti: string, firstUse: number): void {
  firstUses.remember(jti, firstUse);
}

/**
 * The engine's refresh token lifetime: REFRESH_TOKEN_TTL, except for the
 * token a retry rotates into, which ends when the first rotation's does.
 */
export function refreshTokenTtl(ttlSeconds: number) {
  return (ctx: KoaContextWithOIDC | undefined): number => {
    const rotated = ctx?.oidc.entities.RotatedRefreshToken;
    const firstUse = rotated?.jti ? firstUses.peek(rotated.jti) : undefined;
    if (firstUse === undefined) return ttlSeconds;
    return Math.max(1, firstUse + ttlSeconds - Math.floor(Date.now() / 1000));
  };
}
