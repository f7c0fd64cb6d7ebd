import { z } from 'zod';
import type { Knex } from 'knex';
import { newId } from '../db/ids.ts';
import { newCredential } from '../keys/credential-formats.ts';
import { recordEvent } from '../events/events.ts';
import { enqueueNotices } from '../notices/outbox.ts';
import type { SecretHasher } from './partner-secrets.ts';
import { permissionChoice, permissionsOfLevel } from '../permissions/catalog.ts';
import { checkRegisteredTargetUrl, OutboundRefusal, outboundPolicy } from '../outbound/targets.ts';

/** A partner as stored: the secret only as a keyed digest (partner-secrets.ts), or an earlier version's argon2id hash. */
export interface PartnerRow {
  id: string;
  role: 'partner' | 'resource_server';
  name: string;
  account_id: string | null;
  logo_url: string | null;
  website: string | null;
  redirect_uris: string[];
  permissions: string[];
  remove_url: string | null;
  /** What the consent page says about who is asking; each optional. */
  description: string | null;
  developer: string | null;
  privacy_policy_url: string | null;
  terms_url: string | null;
  secret_hash: string;
  previous_secret_hash: string | null;
  previous_secret_expires_at: Date | null;
  approved: boolean;
  /** Set while the operator has suspended the partner: none of its tokens works, its approvals stay. */
  suspended_at: Date | null;
  /** Set once the partner deleted its integration: it can no longer authenticate. */
  deleted_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

/** Every column of a partner row, in the order above. */
export const partnerRowColumns = [
  'id', 'role', 'name', 'account_id', 'logo_url', 'website', 'redirect_uris', 'permissions', 'remove_url',
  'description', 'developer', 'privacy_policy_url', 'terms_url', 'secret_hash', 'previous_secret_hash', 'previous_secret_expires_at', 'approved',
  'suspended_at', 'deleted_at', 'created_at', 'updated_at',
] as const satisfies readonly (keyof PartnerRow)[];

export type PublicPartner = Omit<PartnerRow, 'secret_hash' | 'previous_secret_hash' | 'deleted_at'> & {
  /** Changes to consent-page fields of an approved integration, waiting for the operator's review (field name → new value). */
  pending_changes: Record<string, unknown> | null;
  /** Why the partner asks owners for the permissions it added: shown with its request for more access. */
  access_note: string | null;
  /** Of its permissions, those an owner may leave out at consent. */
  optional_permissions: string[];
};

/** Permissions a partner's token can carry: every catalog entry usable at app level. */
export const appLevelPermissions = permissionsOfLevel('app');

const loopbackHosts = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * Redirect URLs are compared byte for byte at authorize time, so they are
 * validated strictly here: absolute, no fragment, no credentials, and https
 * unless the target is the partner's own machine (RFC 8252 §7.3) or the
 * server runs outside production.
 */
export function redirectUri(production: boolean) {
  return z
    .string()
    .max(2000)
    .refine((value) => URL.canParse(value), 'must be an absolute URL')
    .superRefine((value, ctx) => {
      if (!URL.canParse(value)) return;
      const url = new URL(value);
      if (url.hash || value.includes('#')) ctx.addIssue({ code: 'custom', message: 'must not contain a fragment' });
      if (url.username || url.password) ctx.addIssue({ code: 'custom', message: 'must not contain credentials' });
      if (value.includes('*')) ctx.addIssue({ code: 'custom', message: 'must not contain wildcards' });
      const secure = url.protocol === 'https:' || (url.protocol === 'http:' && (loopbackHosts.has(url.hostname) || !production));
      if (!secure) ctx.addIssue({ code: 'custom', message: 'must use https (http only for localhost)' });
    });
}

function webUrl(production: boolean) {
  return z
    .string()
    .max(2000)
    .refine((value) => URL.canParse(value) && /^https?:$/.test(new URL(value).protocol), 'must be an http(s) URL')
    .refine((value) => !production || value.startsWith('https://'), 'must use https');
}

/**
 * The consent page's policy loads images only over https, so a logo at an
 * http address would show as a broken image: it is refused here, in every
 * environment, rather than discovered by an owner.
 */
function logoUrl() {
  return z
    .string()
    .max(2000)
    .refine((value) => URL.canParse(value) && new URL(value).protocol === 'https:', 'must be an https URL (the consent page shows images only over https)');
}

/** The settings that decide which URLs a partner may register. */
export interface PartnerUrlRules {
  production: boolean;
  OUTBOUND_ALLOW_PRIVATE_TARGETS: boolean;
}

/**
 * The server itself POSTs to a removeUrl, so it must be a URL the outbound
 * rules allow (src/outbound): no loopback, private, link-local or metadata
 * address in any spelling, and no name that can only mean one. Delivery
 * checks again, on the addresses the name resolves to then.
 */
function notificationUrl(rules: PartnerUrlRules) {
  return z
    .string()
    .max(2000)
    .superRefine((value, ctx) => {
      try {
        checkRegisteredTargetUrl(value, outboundPolicy(rules));
      } catch (error) {
        if (!(error instanceof OutboundRefusal)) throw error;
        ctx.addIssue({ code: 'custom', message: `${error.message}; removal notices go only to public addresses` });
      }
    });
}

function redirectUriList(production: boolean) {
  return z.array(redirectUri(production)).min(1, 'at least one redirect URL is required').max(20)
    .refine((uris) => new Set(uris).size === uris.length, 'must not repeat a URL');
}

export function partnerInput(rules: PartnerUrlRules) {
  const { production } = rules;
  return z.object({
    name: z.string().trim().min(1, 'must not be empty').max(200),
    redirectUris: redirectUriList(production),
    permissions: permissionChoice(appLevelPermissions, { required: true }),
    logoUrl: logoUrl().optional(),
    website: webUrl(production).optional(),
    description: z.string().trim().max(300, 'must be at most 300 characters').optional(),
    developer: z.string().trim().max(200, 'must be at most 200 characters').optional(),
    privacyPolicyUrl: webUrl(production).optional(),
    termsUrl: webUrl(production).optional(),
    removeUrl: notificationUrl(rules).optional(),
    accountId: z.string().optional(),
    approved: z.boolean().default(true),
  });
}

export interface CreatedPartner {
  partner: PublicPartner;
  /** The only time the plain secret exists outside the partner's hands. */
  clientSecret: string;
}

export const publicColumns = [
  'id', 'role', 'name', 'account_id', 'logo_url', 'website', 'redirect_uris', 'permissions',
  'remove_url', 'description', 'developer', 'privacy_policy_url', 'terms_url', 'previous_secret_expires_at', 'approved', 'suspended_at',
  'pending_changes', 'access_note', 'optional_permissions', 'created_at', 'updated_at',
] as const;

export async function createPartner(
  db: Knex,
  hasher: SecretHasher,
  rules: PartnerUrlRules,
  input: z.input<ReturnType<typeof partnerInput>>,
  /** Fixed credentials, for the development demo only. */
  fixed: { id: string; clientSecret: string } | undefined = undefined,
): Promise<CreatedPartner> {
  const fields = partnerInput(rules).parse(input);
  const clientSecret = fixed?.clientSecret ?? newCredential('clientSecret');
  const secretHash = await hasher.hash(clientSecret);
  return db.transaction(async (trx) => {
    const [partner] = await trx('partners').insert({
      id: fixed?.id ?? newId('ptn_'),
      role: 'partner',
      name: fields.name,
      account_id: fields.accountId ?? null,
      logo_url: fields.logoUrl ?? null,
      website: fields.website ?? null,
      redirect_uris: JSON.stringify(fields.redirectUris),
      permissions: JSON.stringify(fields.permissions),
      remove_url: fields.removeUrl ?? null,
      description: fields.description || null,
      developer: fields.developer || null,
      privacy_policy_url: fields.privacyPolicyUrl ?? null,
      terms_url: fields.termsUrl ?? null,
      secret_hash: secretHash,
      approved: fields.approved,
    }).returning(publicColumns);
    await recordPartnerEvent(trx, 'partner.registered', partner as PublicPartner, { permissions: fields.permissions });
    return { partner: partner as PublicPartner, clientSecret };
  });
}

type PartnerEventType = 'partner.registered' | 'partner.approved' | 'partner.secret_rotated' | 'partner.redirect_urls_changed' | 'partner.suspended' | 'partner.resumed';

/** Changes only the operator makes, whoever registered the partner. */
const operatorOnly = new Set<PartnerEventType>(['partner.approved', 'partner.suspended', 'partner.resumed']);

/**
 * A change to a partner's registration, for the audit trail: made by the
 * account that registered it in the portal, otherwise by the operator.
 */
export async function recordPartnerEvent(
  db: Knex,
  type: PartnerEventType,
  partner: Pick<PublicPartner, 'id' | 'name' | 'account_id'>,
  detail: Record<string, string[]> = {},
): Promise<void> {
  await recordEvent(db, {
    type,
    actor: partner.account_id && !operatorOnly.has(type) ? { type: 'owner', id: partner.account_id } : { type: 'operator' },
    accountId: partner.account_id,
    partnerId: partner.id,
    target: { type: 'partner', id: partner.id },
    detail: { partnerName: partner.name, ...detail },
  });
}

/**
 * The platform API's own client: it holds no redirect URLs and can do one
 * thing, introspect any token.
 */
export async function createResourceServer(db: Knex, hasher: SecretHasher, name: string): Promise<CreatedPartner> {
  const clientSecret = newCredential('clientSecret');
  const [partner] = await db('partners')
    .insert({
      id: newId('rs_'),
      role: 'resource_server',
      name: z.string().trim().min(1).max(200).parse(name),
      secret_hash: await hasher.hash(clientSecret),
    })
    .returning(publicColumns);
  return { partner: partner as PublicPartner, clientSecret };
}

/** Partners that exist: a deleted integration is gone from every list and lookup. */
const existing = (db: Knex) => db('partners').whereNull('deleted_at');

export async function listPartners(db: Knex): Promise<PublicPartner[]> {
  return existing(db).select(publicColumns).orderBy('created_at');
}

export async function findPartnerRow(db: Knex, id: string): Promise<PartnerRow | undefined> {
  return db('partners').select(partnerRowColumns).where({ id }).first();
}

export async function findPartner(db: Knex, id: string): Promise<PublicPartner | undefined> {
  return existing(db).select(publicColumns).where({ id }).first();
}

/** What a client reply from the CLI or API shows: never a hash. */
export function describePartner(partner: PublicPartner, clientSecret?: string) {
  return {
    client_id: partner.id,
    ...(clientSecret ? { client_secret: clientSecret } : {}),
    role: partner.role,
    name: partner.name,
    redirect_uris: partner.redirect_uris,
    permissions: partner.permissions,
    logo_url: partner.logo_url,
    website: partner.website,
    description: partner.description,
    developer: partner.developer,
    privacy_policy_url: partner.privacy_policy_url,
    terms_url: partner.terms_url,
    remove_url: partner.remove_url,
    approved: partner.approved,
    suspended_at: partner.suspended_at,
    optional_permissions: partner.optional_permissions,
    pending_changes: partner.pending_changes,
    account_id: partner.account_id,
    created_at: partner.created_at,
  };
}

export async function listPartnersOfAccount(db: Knex, accountId: string): Promise<PublicPartner[]> {
  return existing(db).select(publicColumns).where({ account_id: accountId, role: 'partner' }).orderBy('created_at');
}

/** Replaces the redirect URLs, keeping their order; the first one is the default. */
export async function updateRedirectUris(db: Knex, id: string, uris: string[], production: boolean): Promise<PublicPartner> {
  const { redirectUris } = z.object({ redirectUris: redirectUriList(production) }).parse({ redirectUris: uris });
  return db.transaction(async (trx) => {
    const [partner] = await trx('partners')
      .where({ id })
      .update({ redirect_uris: JSON.stringify(redirectUris), updated_at: trx.fn.now() })
      .returning(publicColumns);
    await recordPartnerEvent(trx, 'partner.redirect_urls_changed', partner as PublicPartner, { redirectUris });
    return partner as PublicPartner;
  });
}

/**
 * A new secret for a partner. The one it replaces keeps working for
 * `graceSeconds` so the partner can deploy the new one without downtime; a
 * secret older than that is dropped now.
 */
export async function rotatePartnerSecret(
  db: Knex,
  hasher: SecretHasher,
  id: string,
  graceSeconds: number,
): Promise<{ clientSecret: string; previousValidUntil: Date }> {
  const clientSecret = newCredential('clientSecret');
  const newHash = await hasher.hash(clientSecret);
  const previousValidUntil = new Date(Date.now() + graceSeconds * 1000);
  await db.transaction(async (trx) => {
    const [partner] = await trx('partners')
      .where({ id })
      .update({
        previous_secret_hash: trx.ref('secret_hash'),
        previous_secret_expires_at: previousValidUntil,
        secret_hash: newHash,
        updated_at: trx.fn.now(),
      })
      .returning(['id', 'name', 'account_id']);
    if (partner) await recordPartnerEvent(trx, 'partner.secret_rotated', partner);
  });
  return { clientSecret, previousValidUntil };
}

/**
 * The operator's kill switch. Suspending stamps suspended_at; every token
 * check reads it with the authorization on each request (read-ahead.ts,
 * api-keys.ts), so every instance refuses the partner's tokens from the next
 * request, while approvals, grants and tokens stay in place. Resuming clears
 * it and the same tokens work again, with nothing for owners to do. Each
 * change is recorded and the partner notified; asking for the state it is
 * already in changes nothing. Undefined when there is no such partner.
 */
export async function setPartnerSuspended(db: Knex, id: string, suspend: boolean): Promise<{ partner: PublicPartner; changed: boolean } | undefined> {
  return db.transaction(async (trx) => {
    const query = trx('partners').where({ id, role: 'partner' });
    if (suspend) query.whereNull('suspended_at');
    else query.whereNotNull('suspended_at');
    const [changed] = await query.update({ suspended_at: suspend ? trx.fn.now() : null, updated_at: trx.fn.now() }).returning(publicColumns);
    if (!changed) {
      const partner = await trx('partners').select(publicColumns).where({ id, role: 'partner' }).first();
      return partner ? { partner: partner as PublicPartner, changed: false } : undefined;
    }
    const partner = changed as PublicPartner;
    await recordPartnerEvent(trx, suspend ? 'partner.suspended' : 'partner.resumed', partner);
    await enqueueNotices(trx, suspend ? 'integration.suspended' : 'integration.resumed', [{ partnerId: partner.id }]);
    return { partner, changed: true };
  });
}
