import { randomBytes } from 'node:crypto';
import type { EncryptionKey } from './secret-box.ts';
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

/** Keys that sign session and interaction cookies: configured, or shared through the database. */
export async function loadCookieKeys(db: Knex, configured: string[] | undefined): Promise<string[]> {
  return configured ?? sharedMaterial(db, 'cookie-keys', () => [randomBytes(32).toString('base64url')]);
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
