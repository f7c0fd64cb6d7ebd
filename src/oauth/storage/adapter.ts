import type { Knex } from 'knex';
import Provider, { errors, type Adapter, type AdapterPayload, type KoaContextWithOIDC } from 'oidc-provider';
import { findPartnerRow } from '../../partners/partners.ts';
import { clientMetadataOf } from '../client-metadata.ts';
import type { Settings } from '../../config/settings.ts';
import { revokeGrant } from './grant-revocation.ts';
import { forgetRequestReads, type ReadKind } from './request-reads.ts';
import { partnerReads, recordReadsOf, type StoredRecord } from './read-ahead.ts';
import { runStatement, statement } from '../../db/statements.ts';
import { isFirstUse } from '../../credentials/used-proofs.ts';
import { lookupFor, mayNameRecord, restoredPayload, storedIdLookup, storedPayload, type RecordIds } from './record-ids.ts';
import { firstUseWithinGrace, isRefreshGrant, rememberRetry } from './refresh-reuse.ts';
import { holdIssuedToken, type RecordRow } from './issued-tokens.ts';

/** The payload the engine expects, with `consumed` (seconds) when the record was used. */
function payloadOf(record: StoredRecord, restore: (stored: AdapterPayload) => AdapterPayload): AdapterPayload {
  const { payload, consumed_at: consumedAt } = record;
  const restored = restore(payload);
  return consumedAt ? { ...restored, consumed: Math.floor(new Date(consumedAt).getTime() / 1000) } : restored;
}

/** SQL: the record under `alias` has not expired. */
const liveRecord = (alias: string) => `(${alias}.expires_at is null or ${alias}.expires_at > now())`;

// The engine's record statements, prepared (see statements.ts); the tokens a token request issues go through issued-tokens.ts.
const upsertRecord = statement(
  'oauth_record_upsert',
  `insert into oauth_records (kind, id, payload, grant_id, uid, user_code, expires_at, id_digested) values ($1, $2, $3, $4, $5, $6, $7, $8)
   on conflict (kind, id) do update set payload = excluded.payload, grant_id = excluded.grant_id, uid = excluded.uid,
     user_code = excluded.user_code, expires_at = excluded.expires_at`,
);
// $2: the id or ids the record may be stored under (record-ids.ts), one per digest key.
const findRecord = storedIdLookup(
  'oauth_record_find',
  (id) => `select payload, consumed_at from oauth_records where kind = $1 and id ${id('$2')} and ${liveRecord('oauth_records')} limit 1`,
);
// Atomic: of concurrent calls for one record exactly one gets its grant id back. A refresh token used is also noted on its
// live authorization, for the partner's list of installations. A PL/pgSQL function (migration 20261208000002).
const consumeRecord = statement('oauth_record_consume', 'select * from appgrant_consume($1, $2)');

/**
 * oidc-provider keeps every model (sessions, interactions, grants, codes,
 * tokens) through this adapter, in PostgreSQL, so any instance can continue
 * what another began. Clients are not stored here: they are the partners.
 */
export function createAdapterFactory(db: Knex, settings: Settings, ids: RecordIds) {
  return (kind: string): Adapter => {
    if (kind === 'Client') return new PartnerClientAdapter(db, settings);
    if (kind === 'ReplayDetection') return new UsedProofAdapter(db);
    return new RecordAdapter(db, kind, ids, settings.REFRESH_TOKEN_REUSE_GRACE_SECONDS);
  };
}

/**
 * Records of one engine model. The engine names a record by its id (for
 * tokens, codes and sessions, the secret itself); the table holds it under
 * the id record-ids.ts gives it, a keyed digest for those kinds, so every
 * lookup goes through that mapping and the payload read back is given its
 * id again.
 */
class RecordAdapter implements Adapter {
  readonly #db: Knex;
  readonly #kind: string;
  readonly #ids: RecordIds;
  readonly #reads: ReadKind<StoredRecord | undefined>;
  readonly #reuseGraceSeconds: number;

  constructor(db: Knex, kind: string, ids: RecordIds, reuseGraceSeconds: number) {
    this.#db = db;
    this.#kind = kind;
    this.#ids = ids;
    this.#reads = recordReadsOf(kind);
    this.#reuseGraceSeconds = reuseGraceSeconds;
  }

  async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
    this.#reads.forget(id);
    const [storedId, ...olderIds] = this.#ids.lookupIds(this.#kind, id);
    // Written under the current digest key: a copy under an older one would be found instead of this.
    if (olderIds.length) await this.#db('oauth_records').where({ kind: this.#kind }).whereIn('id', olderIds).delete();
    const row: RecordRow = {
      kind: this.#kind,
      id: storedId!,
      payload: JSON.stringify(storedPayload(this.#kind, id, payload)),
      grantId: payload.grantId ?? null,
      uid: payload.uid ?? null,
      userCode: payload.userCode ?? null,
      expiresAt: expiresIn ? new Date(Date.now() + expiresIn * 1000) : null,
      idDigested: storedId !== id,
    };
    // The tokens a token request issues are written together when it answers (issued-tokens.ts).
    if (holdIssuedToken(row)) return;
    await runStatement(this.#db, upsertRecord, [row.kind, row.id, row.payload, row.grantId, row.uid, row.userCode, row.expiresAt, row.idDigested]);
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    if (!mayNameRecord(this.#kind, id)) return undefined;
    const storedIds = this.#ids.lookupIds(this.#kind, id);
    const find = lookupFor(findRecord, storedIds);
    const record = await this.#reads.once(id, async () => (await runStatement(this.#db, find.statement, [this.#kind, find.ids]))[0] as StoredRecord | undefined);
    if (!record) return undefined;
    const payload = payloadOf(record, (stored) => restoredPayload(this.#kind, id, stored));
    // A refresh token retried within the grace window is shown unused: the engine rotates it again (refresh-reuse.ts).
    if (payload.consumed && (await this.#usedWithinGrace(storedIds)) !== undefined) delete payload.consumed;
    return payload;
  }

  /** When a refresh token presented at the refresh grant was first used, if within the grace window (refresh-reuse.ts). */
  async #usedWithinGrace(storedIds: string[]): Promise<number | undefined> {
    if (this.#kind !== 'RefreshToken' || !isRefreshGrant()) return undefined;
    return firstUseWithinGrace(this.#db, storedIds, this.#reuseGraceSeconds);
  }

  findByUid(uid: string): Promise<AdapterPayload | undefined> {
    return this.#findBy({ uid });
  }

  findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    return this.#findBy({ user_code: userCode });
  }

  async #findBy(where: Record<string, string>): Promise<AdapterPayload | undefined> {
    const record: StoredRecord | undefined = await this.#db('oauth_records')
      .select('payload', 'consumed_at')
      .where({ kind: this.#kind, ...where })
      .andWhereRaw(liveRecord('oauth_records'))
      .first();
    // Found by another value than its id: for secret kinds the id is not known here, and the payload goes without it.
    return record && payloadOf(record, (stored) => stored);
  }

  /**
   * Marks a code or refresh token used, atomically: of many concurrent
   * exchanges exactly one gets here first. The others are a replay, treated
   * as RFC 9700 §4.5 asks: refused, and the grant revoked; but a refresh
   * token used within the grace window (a retry, or a concurrent refresh) is
   * let through to be rotated again (refresh-reuse.ts).
   */
  async consume(id: string): Promise<void> {
    this.#reads.forget(id);
    const storedIds = this.#ids.lookupIds(this.#kind, id);
    const consumed = await runStatement(this.#db, consumeRecord, [this.#kind, storedIds]);
    if (consumed.length === 1) return;
    const firstUse = await this.#usedWithinGrace(storedIds);
    if (firstUse !== undefined) {
      rememberRetry(id, firstUse);
      return;
    }
    const row = await this.#db('oauth_records').select('grant_id').where({ kind: this.#kind }).whereIn('id', storedIds).first();
    if (row?.grant_id) await revokeGrant(this.#db, row.grant_id, { cause: this.#kind === 'RefreshToken' ? 'refresh_replay' : 'code_replay' });
    throw new errors.InvalidGrant('grant already used');
  }

  async destroy(id: string): Promise<void> {
    this.#reads.forget(id);
    if (this.#kind === 'Grant') {
      await revokeGrant(this.#db, id, { cause: grantDestructionCause() });
      return;
    }
    await this.#db('oauth_records').where({ kind: this.#kind }).whereIn('id', this.#ids.lookupIds(this.#kind, id)).delete();
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    await this.#db('oauth_records').where({ kind: this.#kind, grant_id: grantId }).delete();
    forgetRequestReads();
  }
}

/** A model kept outside oauth_records, answering only what its kind needs; the rest does nothing. */
abstract class SideAdapter implements Adapter {
  abstract find(id: string): Promise<AdapterPayload | undefined>;
  abstract upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void>;

  async findByUid(): Promise<undefined> {
    return undefined;
  }

  async findByUserCode(): Promise<undefined> {
    return undefined;
  }

  async consume(): Promise<void> {}

  async destroy(): Promise<void> {}

  async revokeByGrantId(): Promise<void> {}
}

class PartnerClientAdapter extends SideAdapter {
  readonly #db: Knex;
  readonly #settings: Settings;

  constructor(db: Knex, settings: Settings) {
    super();
    this.#db = db;
    this.#settings = settings;
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    const partner = await partnerReads.once(id, () => findPartnerRow(this.#db, id));
    // A deleted integration is no client: nothing can authenticate as it or start a flow for it.
    return partner && !partner.deleted_at ? (clientMetadataOf(partner, this.#settings) as AdapterPayload) : undefined;
  }

  async upsert(): Promise<void> {
    throw new Error('partners are registered through appgrant, not dynamic registration');
  }
}

/**
 * The engine's one-time proofs (DPoP proof jti at the token endpoint): its
 * check is "find, then save"; here the save itself is the atomic check, in
 * the store the API's DPoP proofs use, so two instances racing with one
 * proof cannot both pass.
 */
class UsedProofAdapter extends SideAdapter {
  readonly #db: Knex;

  constructor(db: Knex) {
    super();
    this.#db = db;
  }

  async upsert(id: string, _payload: AdapterPayload, expiresIn: number): Promise<void> {
    if (!(await isFirstUse(this.#db, 'engine', id, new Date(Date.now() + expiresIn * 1000)))) {
      throw new errors.InvalidGrant('DPoP proof JWT Replay detected');
    }
  }

  async find(): Promise<undefined> {
    return undefined;
  }
}

/**
 * Why the engine destroys a grant, from the request it is handling: at the
 * token endpoint, a code or refresh token presented again after it was used
 * (RFC 9700 §4.5, §4.14); otherwise the partner revoking one of its tokens
 * (RFC 7009 with revokeGrantPolicy).
 */
function grantDestructionCause(): 'code_replay' | 'refresh_replay' | 'partner_revoke' {
  const oidc = (Provider.ctx as KoaContextWithOIDC | undefined)?.oidc;
  if (oidc?.route !== 'token') return 'partner_revoke';
  return isRefreshGrant() ? 'refresh_replay' : 'code_replay';
}
