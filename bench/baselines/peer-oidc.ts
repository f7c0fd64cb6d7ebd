/**
 * Baseline, the peer: oidc-provider configured like appgrant's engine
 * (engine.ts) on the PostgreSQL adapter a team writes first: one table for
 * every model, one plain `pg` statement per adapter call, the model's
 * payload as jsonb. What a user would otherwise pick.
 *
 * Environment: DATABASE_URL (a database of its own), POOL_SIZE (default
 * 10, appgrant's), and engine.ts's.
 */
import pg from 'pg';
import type { Adapter, AdapterPayload } from 'oidc-provider';
import { serveEngine } from './engine.ts';

const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl) throw new Error('DATABASE_URL is required');
const pool = new pg.Pool({ connectionString: databaseUrl, max: Number(process.env.POOL_SIZE ?? 10) });

await pool.query(`
  create table if not exists oidc_payloads (
    id text not null,
    type text not null,
    payload jsonb not null,
    grant_id text,
    user_code text,
    uid text,
    expires_at timestamptz,
    consumed_at timestamptz,
    primary key (id, type)
  );
  create index if not exists oidc_payloads_grant_id on oidc_payloads (grant_id);
  create index if not exists oidc_payloads_uid on oidc_payloads (uid);
  create index if not exists oidc_payloads_user_code on oidc_payloads (user_code);
`);

interface Row {
  payload: AdapterPayload;
  consumed_at: Date | null;
}

const live = '(expires_at is null or expires_at > now())';

class PostgresAdapter implements Adapter {
  readonly #type: string;

  constructor(type: string) {
    this.#type = type;
  }

  async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
    await pool.query(
      `insert into oidc_payloads (id, type, payload, grant_id, user_code, uid, expires_at) values ($1, $2, $3, $4, $5, $6, $7)
       on conflict (id, type) do update set payload = excluded.payload, grant_id = excluded.grant_id, user_code = excluded.user_code,
         uid = excluded.uid, expires_at = excluded.expires_at`,
      [id, this.#type, payload, payload.grantId ?? null, payload.userCode ?? null, payload.uid ?? null, expiresIn ? new Date(Date.now() + expiresIn * 1000) : null],
    );
  }

  async #one(column: 'id' | 'uid' | 'user_code', value: string): Promise<AdapterPayload | undefined> {
    const { rows } = await pool.query<Row>(`select payload, consumed_at from oidc_payloads where ${column} = $1 and type = $2 and ${live}`, [value, this.#type]);
    const row = rows[0];
    if (!row) return undefined;
    return row.consumed_at ? { ...row.payload, consumed: Math.floor(row.consumed_at.getTime() / 1000) } : row.payload;
  }

  find(id: string) {
    return this.#one('id', id);
  }

  findByUid(uid: string) {
    return this.#one('uid', uid);
  }

  findByUserCode(userCode: string) {
    return this.#one('user_code', userCode);
  }

  async consume(id: string): Promise<void> {
    await pool.query('update oidc_payloads set consumed_at = now() where id = $1 and type = $2', [id, this.#type]);
  }

  async destroy(id: string): Promise<void> {
    await pool.query('delete from oidc_payloads where id = $1 and type = $2', [id, this.#type]);
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    await pool.query('delete from oidc_payloads where grant_id = $1 and type = $2', [grantId, this.#type]);
  }
}

serveEngine((model) => new PostgresAdapter(model), { afterMint: () => pool.query('analyze oidc_payloads'), onClose: () => pool.end() });
