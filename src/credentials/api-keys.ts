import { z } from 'zod';
import type { Knex } from 'knex';
import { newId } from '../db/ids.ts';
import { newCredential } from '../keys/credential-formats.ts';
import { permissionChoice, permissionsOfLevels, type Level } from '../permissions/catalog.ts';
import { normalizeRange, rangeWithin } from './ip-ranges.ts';
import { recordEvent, type Actor, type Origin } from '../events/events.ts';
import type { SecretBox } from '../keys/secret-box.ts';
import type { App } from '../apps/apps.ts';
import { runStatement, statement } from '../db/statements.ts';
import { ForbiddenProblem } from '../http/problems.ts';

export type KeyOwner =
  | { type: 'app'; appId: string; accountId: string }
  | { type: 'account'; accountId: string }
  | { type: 'service_account'; serviceAccountId: string; accountId: string };

export interface ApiKeyRow {
  id: string;
  owner_type: KeyOwner['type'];
  account_id: string;
  app_id: string | null;
  service_account_id: string | null;
  display_name: string;
  permissions: string[];
  allowed_ips: string[];
  expires_at: Date | null;
  secret_ciphertext: string;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

export type PublicApiKey = Omit<ApiKeyRow, 'secret_ciphertext'>;

const idPrefixes: Record<KeyOwner['type'], string> = { app: 'app_', account: 'act_', service_account: 'svc_' };

export function levelOfOwner(type: KeyOwner['type']): 'app' | 'account' {
  return type === 'app' ? 'app' : 'account';
}

/**
 * What a key of a level may hold: the permissions of its level and of the
 * levels below it, since an app key signs appUser JWTs and an account key
 * creates app keys.
 */
export function grantableToKey(level: 'app' | 'account'): string[] {
  return permissionsOfLevels(level === 'app' ? ['app', 'appUser'] : ['account', 'app', 'appUser']);
}

/**
 * What a key is created with. Its permissions are named explicitly (or "all")
 * where a person or operator creates it; a credential creating one may leave
 * them out and gets its own (see boundedByCreator).
 */
function apiKeyInput(level: 'app' | 'account', { createdByCredential }: { createdByCredential: boolean }) {
  return z.object({
    displayName: z.string().trim().min(1, 'must not be empty').max(100),
    permissions: permissionChoice(grantableToKey(level), { required: !createdByCredential }),
    expiresAt: z.iso
      .datetime({ offset: true })
      .transform((value) => new Date(value))
      .refine((date) => date.getTime() > Date.now(), 'must be in the future')
      .optional(),
    allowedIps: z
      .array(z.string())
      .max(50)
      .default([])
      .transform((ranges, ctx) =>
        ranges.map((range) => {
          const normalized = normalizeRange(range);
          if (!normalized) ctx.addIssue({ code: 'custom', message: `not an IP address or CIDR range: ${range}` });
          return normalized ?? '';
        }),
      ),
  });
}

export type ApiKeyInput = z.input<ReturnType<typeof apiKeyInput>>;

/** The four schemas, built once: by level, and whether a credential (rather than a person or the operator) creates the key. */
const keyInputs = {
  app: { byCredential: apiKeyInput('app', { createdByCredential: true }), byPerson: apiKeyInput('app', { createdByCredential: false }) },
  account: { byCredential: apiKeyInput('account', { createdByCredential: true }), byPerson: apiKeyInput('account', { createdByCredential: false }) },
};

/** What POST /v2/apps/{appId}/keys takes: an app key, created by a credential, so its permissions may be left out. */
export const appKeyInputFromCredential = keyInputs.app.byCredential;

const publicColumns = [
  'id', 'owner_type', 'account_id', 'app_id', 'service_account_id', 'display_name', 'permissions',
  'allowed_ips', 'expires_at', 'created_at', 'last_used_at', 'revoked_at',
] as const;

/** A credential creating a key: the new key can never be broader than it. */
export interface KeyCreator {
  permissions: ReadonlySet<string>;
  /** When the creator stops working, if it ever does. */
  expiresAt?: Date | null | undefined;
  /** Where the creator may be used from; empty: anywhere. */
  allowedIps: readonly string[];
  /** A partner's token: the authorization the new key is bound to, and ends with. */
  authorizationId?: string | undefined;
}

export type KeyFields = z.output<ReturnType<typeof apiKeyInput>>;

/**
 * A key created by a credential is never broader than that credential: its
 * permissions are a subset of the creator's (none named: the creator's own
 * of the key's level); it expires no later (none named: when the creator
 * does); it is confined to ranges inside the creator's (none named: the
 * creator's). Asking for more is refused with the 403.
 */
function boundedByCreator(fields: KeyFields, creator: KeyCreator, level: 'app' | 'account'): KeyFields {
  const held = grantableToKey(level).filter((name) => creator.permissions.has(name));
  const permissions = fields.permissions.length ? fields.permissions : held;
  if (!permissions.length || !permissions.every((name) => creator.permissions.has(name))) throw new ForbiddenProblem('permission');
  const expiresAt = fields.expiresAt ?? creator.expiresAt ?? undefined;
  if (creator.expiresAt && expiresAt && expiresAt.getTime() > creator.expiresAt.getTime()) throw new ForbiddenProblem('expired');
  const allowedIps = fields.allowedIps.length ? fields.allowedIps : [...creator.allowedIps];
  if (creator.allowedIps.length && !allowedIps.every((range) => creator.allowedIps.some((outer) => rangeWithin(range, outer)))) {
    throw new ForbiddenProblem('ip_not_allowed');
  }
  return { ...fields, permissions, expiresAt, allowedIps };
}

/**
 * What a new key of a level holds, from unchecked input: validated (a
 * ZodError names the bad field), then bounded by the credential creating
 * it, if one does. No database: the rule on its own.
 */
export function newKeyFields(level: 'app' | 'account', input: ApiKeyInput, creator?: KeyCreator): KeyFields {
  const parsed = keyInputs[level][creator ? 'byCredential' : 'byPerson'].parse(input);
  return creator ? boundedByCreator(parsed, creator, level) : parsed;
}

/** Told of each key created or revoked (the server counts them for its metrics). */
export interface KeyEvents {
  created(level: Level): void;
  revoked(): void;
}

const unobserved: KeyEvents = { created: () => {}, revoked: () => {} };

/**
 * Creates a key from unchecked input (newKeyFields); the returned secret is
 * the only copy that will ever be shown. A key created by a partner's token
 * is bound to the partner's authorization.
 */
export async function createApiKey(
  db: Knex,
  box: SecretBox,
  owner: KeyOwner,
  input: ApiKeyInput,
  { creator, events = unobserved, audit }: { creator?: KeyCreator | undefined; events?: KeyEvents | undefined; audit: KeyAudit },
): Promise<{ key: PublicApiKey; secret: string }> {
  const level = levelOfOwner(owner.type);
  const fields = newKeyFields(level, input, creator);
  const id = newId(idPrefixes[owner.type]);
  const secret = newCredential('apiKeySecret');
  const key = await db.transaction(async (trx) => {
    const [created] = await trx('api_keys')
      .insert({
        id,
        owner_type: owner.type,
        account_id: owner.accountId,
        app_id: owner.type === 'app' ? owner.appId : null,
        service_account_id: owner.type === 'service_account' ? owner.serviceAccountId : null,
        display_name: fields.displayName,
        permissions: JSON.stringify(fields.permissions),
        allowed_ips: JSON.stringify(fields.allowedIps),
        expires_at: fields.expiresAt ?? null,
        secret_ciphertext: box.seal(secret, id),
        authorization_id: creator?.authorizationId ?? null,
      })
      .returning(publicColumns);
    await recordKeyEvent(trx, 'key.created', created as PublicApiKey, audit, { permissions: fields.permissions });
    return created as PublicApiKey;
  });
  events.created(level);
  return { key, secret };
}

/** Who creates or revokes a key, and from where, for the audit trail. */
export interface KeyAudit {
  actor: Actor;
  origin?: Origin | undefined;
  /** The app's name, when the key belongs to one (the activity log names it). */
  appName?: string | undefined;
}

async function recordKeyEvent(
  db: Knex,
  type: 'key.created' | 'key.revoked',
  key: Pick<PublicApiKey, 'id' | 'account_id' | 'app_id' | 'display_name'>,
  audit: KeyAudit,
  detail: { permissions?: string[] } = {},
): Promise<void> {
  await recordEvent(db, {
    type,
    actor: audit.actor,
    accountId: key.account_id,
    appId: key.app_id,
    target: { type: 'key', id: key.id },
    origin: audit.origin,
    detail: { keyName: key.display_name, appName: audit.appName, ...detail },
  });
}

/** Revokes the live keys created through these authorizations, in the transaction that ends them. */
export async function revokeKeysOfAuthorizations(trx: Knex.Transaction, authorizationIds: readonly string[]): Promise<void> {
  if (!authorizationIds.length) return;
  await trx('api_keys').whereIn('authorization_id', authorizationIds).whereNull('revoked_at').update({ revoked_at: trx.fn.now() });
}

const appColumns = ['id', 'account_id', 'display_name', 'settings', 'metadata', 'created_at'] as const;

/**
 * Every API request reads its key: a PL/pgSQL function (migration
 * 20261208000001_hot_read_functions) whose plan PostgreSQL keeps even when
 * the call goes unnamed. A usable key is not revoked and not minted by a
 * partner the operator has suspended (a key created with a partner's token
 * is that partner's credential, and stops with its tokens).
 */
const liveKey = statement('api_key_live', 'select * from appgrant_live_key_read($1, $2)');

/**
 * A live (not revoked) key with its sealed secret, for checking credentials;
 * and, when the request names an app, that app (null when there is none) in
 * the same round trip, since the next step needs it.
 */
export async function findLiveKey(db: Knex, id: string, appId?: string): Promise<{ key: ApiKeyRow; app?: App | null } | undefined> {
  const [row] = await runStatement(db, liveKey, [id, appId ?? null]);
  if (!row) return undefined;
  const app = Object.fromEntries(appColumns.map((column) => [column, row[`named_app_${column}`]])) as unknown as App;
  for (const column of appColumns) delete row[`named_app_${column}`];
  return appId === undefined ? { key: row as unknown as ApiKeyRow } : { key: row as unknown as ApiKeyRow, app: app.id ? app : null };
}

export async function listAppKeys(db: Knex, appId: string): Promise<PublicApiKey[]> {
  return db('api_keys').select(publicColumns).where({ app_id: appId }).whereNull('revoked_at').orderBy([{ column: 'created_at' }, { column: 'id' }]);
}

export async function findAppKey(db: Knex, appId: string, id: string): Promise<PublicApiKey | undefined> {
  return db('api_keys').select(publicColumns).where({ app_id: appId, id }).whereNull('revoked_at').first();
}

/** How many live keys each of these apps has. */
export async function countLiveKeysByApp(db: Knex, appIds: string[]): Promise<Map<string, number>> {
  const rows: { app_id: string; n: string | number }[] = await db('api_keys').select('app_id').count({ n: '*' }).whereIn('app_id', appIds).whereNull('revoked_at').groupBy('app_id');
  return new Map(rows.map((row) => [row.app_id, Number(row.n)]));
}

/** Revokes a key; true when a live key was revoked. Every instance refuses it from the next request on. */
export async function revokeApiKey(db: Knex, id: string, appId: string | undefined, audit: KeyAudit, events: KeyEvents = unobserved): Promise<boolean> {
  const revoked = await db.transaction(async (trx) => {
    const query = trx('api_keys').where({ id }).whereNull('revoked_at');
    if (appId) query.andWhere({ app_id: appId });
    const [row] = await query.update({ revoked_at: trx.fn.now() }).returning(['id', 'account_id', 'app_id', 'display_name']);
    if (row) await recordKeyEvent(trx, 'key.revoked', row, audit);
    return row !== undefined;
  });
  if (revoked) events.revoked();
  return revoked;
}

export async function createServiceAccount(db: Knex, accountId: string, name: string): Promise<{ id: string; account_id: string; name: string }> {
  const [serviceAccount] = await db('service_accounts')
    .insert({ id: newId(), account_id: accountId, name: z.string().trim().min(1).max(200).parse(name) })
    .returning(['id', 'account_id', 'name']);
  return serviceAccount;
}

export async function findServiceAccount(db: Knex, id: string): Promise<{ id: string; account_id: string; name: string } | undefined> {
  return db('service_accounts').select('id', 'account_id', 'name').where({ id }).first();
}
