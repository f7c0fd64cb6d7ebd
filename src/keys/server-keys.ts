import { randomBytes } from 'node:crypto';
import type { EncryptionKey, SecretBox } from './secret-box.ts';
import type { Knex } from 'knex';

/**
 * Reads a shared key set, creating it first if no instance has yet. Insert
 * with ON CONFLICT DO NOTHING then read back: when two instances start at
 * once, both end up with the one that won.
 */
async function sharedMaterial<T>(db: Knex, purpose: string, create: () => T): Promise<T> {
  await db('server_keys').insert({ purpose, material: JSON.stringify(create()) }).onConflict('purpose').ignore();
  const row = await db('server_keys').select('material').where({ purpose }).first();
  return row.material as T;
}

const cookieKeysPurpose = 'cookie-keys';

/**
 * Keys that sign session and interaction cookies: configured (production
 * requires it), or else generated once and shared through the database,
 * sealed under the key-encryption keys, so that a copy of the table does
 * not let anyone forge a cookie. Keys an earlier version stored in plain
 * form are sealed the first time they are read.
 */
export async function loadCookieKeys(db: Knex, configured: string[] | undefined, box: SecretBox): Promise<string[]> {
  if (configured) return configured;
  const seal = (keys: string[]) => ({ sealed: box.seal(JSON.stringify(keys), cookieKeysPurpose) });
  const material = await sharedMaterial<{ sealed: string } | string[]>(db, cookieKeysPurpose, () => seal([randomBytes(32).toString('base64url')]));
  if (Array.isArray(material)) {
    await db('server_keys').where({ purpose: cookieKeysPurpose }).update({ material: JSON.stringify(seal(material)) });
    return material;
  }
  const opened = box.open(material.sealed, cookieKeysPurpose);
  if (opened === undefined) throw new Error('the cookie keys in server_keys cannot be opened with the configured KEY_ENCRYPTION_KEYS');
  return JSON.parse(opened) as string[];
}

/**
 * Keys that encrypt API key secrets. Production requires them from
 * configuration (settings refuse to start otherwise), so the database alone
 * never holds both the ciphertexts and their key; elsewhere they are
 * generated once and shared through the database.
 */
export async function loadKeyEncryptionKeys(db: Knex, configured: EncryptionKey[] | undefined): Promise<EncryptionKey[]> {
  return configured ?? sharedMaterial(db, 'key-encryption-keys', () => [{ id: 'local1', secret: randomBytes(32).toString('base64url') }]);
}
