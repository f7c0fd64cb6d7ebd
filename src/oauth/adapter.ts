import type { Knex } from 'knex';
import { errors, type Adapter, type AdapterPayload } from 'oidc-provider';
import { findPartnerRow } from '../partners/partners.ts';
import { clientMetadataOf } from './client-metadata.ts';
import type { Settings } from '../config/settings.ts';
import { revokeGrant } from '../authorizations/revoke-grant.ts';

/**
 * oidc-provider keeps every model (sessions, interactions, grants, codes,
 * tokens) through this adapter, in PostgreSQL, so any instance can continue
 * what another began. Clients are not stored here: they are the partners.
 */
export function createAdapterFactory(db: Knex, settings: Settings) {
  return (kind: string): Adapter => (kind === 'Client' ? new PartnerClientAdapter(db, settings) : new RecordAdapter(db, kind));
}

class RecordAdapter implements Adapter {
  readonly #db: Knex;
  readonly #kind: string;

  constructor(db: Knex, kind: string) {
    this.#db = db;
    this.#kind = kind;
  }

  async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
    const row = {
      kind: this.#kind,
      id,
      payload: JSON.stringify(payload),
      grant_id: payload.grantId ?? null,
      uid: payload.uid ?? null,
      user_code: payload.userCode ?? null,
      expires_at: expiresIn ? new Date(Date.now() + expiresIn * 1000) : null,
    };
    await this.#db('oauth_records').insert(row).onConflict(['kind', 'id']).merge(['payload', 'grant_id', 'uid', 'user_code', 'expires_at']);
  }

  find(id: string): Promise<AdapterPayload | undefined> {
    return this.#findBy({ id });
  }

  findByUid(uid: string): Promise<AdapterPayload | undefined> {
    return this.#findBy({ uid });
  }

  findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    return this.#findBy({ user_code: userCode });
  }

  async #findBy(where: Record<string, string>): Promise<AdapterPayload | undefined> {
    const row = await this.#db('oauth_records')
      .select('payload', 'consumed_at')
      .where({ kind: this.#kind, ...where })
      .andWhere((query) => query.whereNull('expires_at').orWhere('expires_at', '>', new Date()))
      .first();
    if (!row) return undefined;
    const payload = row.payload as AdapterPayload;
    return row.consumed_at ? { ...payload, consumed: Math.floor(new Date(row.consumed_at).getTime() / 1000) } : payload;
  }

  /**
   * Marks a code or refresh token used, atomically: of many concurrent
   * exchanges exactly one gets here first. The others are a replay, treated
   * as RFC 9700 §4.5 asks: refused, and the grant revoked.
   */
  async consume(id: string): Promise<void> {
    const consumed = await this.#db('oauth_records')
      .where({ kind: this.#kind, id })
      .whereNull('consumed_at')
      .update({ consumed_at: this.#db.fn.now() })
      .returning('grant_id');
    if (consumed.length === 1) return;
    const row = await this.#db('oauth_records').select('grant_id').where({ kind: this.#kind, id }).first();
    if (row?.grant_id) await revokeGrant(this.#db, row.grant_id);
    throw new errors.InvalidGrant('grant already used');
  }

  async destroy(id: string): Promise<void> {
    if (this.#kind === 'Grant') {
      await revokeGrant(this.#db, id);
      return;
    }
    await this.#db('oauth_records').where({ kind: this.#kind, id }).delete();
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    await this.#db('oauth_records').where({ kind: this.#kind, grant_id: grantId }).delete();
  }
}

class PartnerClientAdapter implements Adapter {
  readonly #db: Knex;
  readonly #settings: Settings;

  constructor(db: Knex, settings: Settings) {
    this.#db = db;
    this.#settings = settings;
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    const partner = await findPartnerRow(this.#db, id);
    return partner ? (clientMetadataOf(partner, this.#settings) as AdapterPayload) : undefined;
  }

  async upsert(): Promise<void> {
    throw new Error('partners are registered through appgrant, not dynamic registration');
  }

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

/** Deletes records and dashboard sessions past their expiry; every instance may run it, the work is idempotent. */
export async function sweepExpiredRecords(db: Knex): Promise<void> {
  await db('oauth_records').where('expires_at', '<', new Date()).delete();
  await db('web_sessions').where('expires_at', '<', new Date()).delete();
}
