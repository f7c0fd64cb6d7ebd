import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import type { EncryptionKey } from './secret-box.ts';
import type { Knex } from 'knex';
import type { JWK } from 'oidc-provider';

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

function newSigningKey(): JWK {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { ...(privateKey.export({ format: 'jwk' }) as JWK), kid: randomUUID(), alg: 'ES256', use: 'sig' };
}

/** The engine's signing keys, newest first; shared by every instance through the database. */
export async function loadSigningKeys(db: Knex): Promise<JWK[]> {
  return sharedMaterial(db, 'signing-keys', () => [newSigningKey()]);
}

/** Puts a new signing key first; the old ones stay published so what they signed still verifies. */
export async function rotateSigningKeys(db: Knex): Promise<{ kid: string; keys: number }> {
  const current = await loadSigningKeys(db);
  const fresh = newSigningKey();
  const keys = [fresh, ...current].slice(0, 3);
  await db('server_keys').where({ purpose: 'signing-keys' }).update({ material: JSON.stringify(keys) });
  return { kid: fresh.kid as string, keys: keys.length };
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
