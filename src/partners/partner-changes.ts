import { z } from 'zod';
import type { Knex } from 'knex';
import { recordEvent, type Actor } from '../events/events.ts';
import { findPartner, partnerInput, publicColumns, recordPartnerEvent, type PartnerUrlRules, type PublicPartner } from './partners.ts';

/** Each editable field and the column it is stored in. */
const columns = {
  name: 'name',
  redirectUris: 'redirect_uris',
  permissions: 'permissions',
  logoUrl: 'logo_url',
  website: 'website',
  description: 'description',
  developer: 'developer',
  privacyPolicyUrl: 'privacy_policy_url',
  termsUrl: 'terms_url',
  removeUrl: 'remove_url',
  accessNote: 'access_note',
  optionalPermissions: 'optional_permissions',
} as const;

export type PartnerField = keyof typeof columns;

/** What owners see on the consent page: on an approved integration, a change to these waits for the operator. */
export const consentFields: ReadonlySet<PartnerField> = new Set(['name', 'permissions', 'optionalPermissions', 'logoUrl', 'website', 'description', 'developer', 'privacyPolicyUrl', 'termsUrl']);

/** An optional field given as '' is cleared. */
const clearable = <T extends z.ZodType>(schema: T) => z.preprocess((value) => (value === '' ? null : value), schema.nullable());

/** The fields a change names, each validated as at registration; a field left out stays as it is. */
function partnerChanges(rules: PartnerUrlRules) {
  const { shape } = partnerInput(rules);
  return z
    .object({
      name: shape.name,
      redirectUris: shape.redirectUris,
      permissions: shape.permissions,
      logoUrl: clearable(shape.logoUrl.unwrap()),
      website: clearable(shape.website.unwrap()),
      description: clearable(shape.description.unwrap()),
      developer: clearable(shape.developer.unwrap()),
      privacyPolicyUrl: clearable(shape.privacyPolicyUrl.unwrap()),
      termsUrl: clearable(shape.termsUrl.unwrap()),
      removeUrl: clearable(shape.removeUrl.unwrap()),
      accessNote: clearable(z.string().trim().max(500, 'must be at most 500 characters')),
      optionalPermissions: z.array(z.string()).max(50).transform((names) => names.filter(Boolean)),
    })
    .partial()
    .strict();
}

/** Optional permissions must be among those the partner asks for: refused otherwise, as a field error. */
function checkOptionalPermissions(optional: readonly string[], permissions: readonly string[]): void {
  const stray = optional.filter((name) => !permissions.includes(name));
  if (stray.length) {
    throw new z.ZodError([{ code: 'custom', path: ['optionalPermissions'], message: `must be among the permissions asked for (not ${stray.join(', ')})`, input: optional }]);
  }
}

export type PartnerChanges = z.input<ReturnType<typeof partnerChanges>>;

const stored = (value: unknown) => (Array.isArray(value) ? JSON.stringify(value) : (value ?? null));
const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/** Column values for these field values. */
function columnValues(values: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(values).map(([field, value]) => [columns[field as PartnerField], stored(value)]));
}

export interface PartnerUpdate {
  partner: PublicPartner;
  /** Fields in force now. */
  applied: PartnerField[];
  /** Fields waiting for the operator's review, the approved values staying in force meanwhile. */
  awaitingReview: PartnerField[];
}

/**
 * Edits an integration. The partner's own changes to consent-page fields of
 * an operator-approved integration are held in pending_changes until the
 * operator approves them (`partner approve`); the approved values stay what
 * owners see and what new approvals grant. Everything else, and every change
 * the operator makes, is in force at once. A field changed back to its
 * approved value leaves the pending ones. Undefined when there is no such
 * integration; a ZodError names every field that is wrong, and nothing is written.
 */
export async function updatePartner(db: Knex, rules: PartnerUrlRules, id: string, input: PartnerChanges, actor: Actor): Promise<PartnerUpdate | undefined> {
  const changes = partnerChanges(rules).parse(input) as Record<string, unknown>;
  return db.transaction(async (trx) => {
    const partner: PublicPartner | undefined = await trx('partners').select(publicColumns).where({ id, role: 'partner' }).whereNull('deleted_at').forUpdate().first();
    if (!partner) return undefined;
    const current = (field: string) => partner[columns[field as PartnerField] as keyof PublicPartner];
    if (changes.optionalPermissions) checkOptionalPermissions(changes.optionalPermissions as string[], (changes.permissions ?? partner.permissions) as string[]);
    // Permissions no longer asked for are no longer optional either.
    else if (changes.permissions) changes.optionalPermissions = partner.optional_permissions.filter((name) => (changes.permissions as string[]).includes(name));
    const reviewed = (field: string) => partner.approved && actor.type !== 'operator' && consentFields.has(field as PartnerField);
    const pending: Record<string, unknown> = { ...partner.pending_changes };
    const applied: Record<string, unknown> = {};
    for (const [field, value] of Object.entries(changes)) {
      if (actor.type === 'operator' || same(value, current(field))) delete pending[field];
      if (same(value, current(field))) continue;
      if (reviewed(field)) pending[field] = value;
      else applied[field] = value;
    }
    const [updated] = await trx('partners')
      .where({ id })
      .update({ ...columnValues(applied), pending_changes: Object.keys(pending).length ? JSON.stringify(pending) : null, updated_at: trx.fn.now() })
      .returning(publicColumns);
    const result = { partner: updated as PublicPartner, applied: Object.keys(applied) as PartnerField[], awaitingReview: Object.keys(pending) as PartnerField[] };
    await recordEvent(trx, {
      type: 'partner.updated',
      actor,
      accountId: partner.account_id,
      partnerId: id,
      target: { type: 'partner', id },
      detail: { partnerName: partner.name, fields: result.applied, awaitingReview: result.awaitingReview },
    });
    return result;
  });
}

/** The operator's approval puts every pending change in force, in the approval's transaction; the fields it applied. */
export async function applyPendingChanges(trx: Knex.Transaction, partner: PublicPartner): Promise<string[]> {
  const pending = partner.pending_changes ?? {};
  if (!Object.keys(pending).length) return [];
  await trx('partners').where({ id: partner.id }).update({ ...columnValues(pending), pending_changes: null, updated_at: trx.fn.now() });
  return Object.keys(pending);
}

/** An operator's approval: the integration may now be added to any owner's app, with the changes that waited for it. */
export async function approvePartner(db: Knex, id: string): Promise<PublicPartner | undefined> {
  return db.transaction(async (trx) => {
    const [partner] = await trx('partners').where({ id, role: 'partner' }).whereNull('deleted_at').update({ approved: true, updated_at: trx.fn.now() }).returning(publicColumns);
    if (!partner) return undefined;
    // Changes that waited for review go into force with the approval.
    const applied = await applyPendingChanges(trx, partner as PublicPartner);
    await recordPartnerEvent(trx, 'partner.approved', partner as PublicPartner, applied.length ? { applied } : {});
    return findPartner(trx, id);
  });
}

/** Marks an integration deleted, once its authorizations have ended (src/oauth/storage/token-revocation.ts does both). */
export async function markPartnerDeleted(trx: Knex.Transaction, id: string, actor: Actor): Promise<boolean> {
  const [partner] = await trx('partners').where({ id, role: 'partner' }).whereNull('deleted_at').update({ deleted_at: trx.fn.now() }).returning(['id', 'name', 'account_id']);
  if (!partner) return false;
  await recordEvent(trx, { type: 'partner.deleted', actor, accountId: partner.account_id, partnerId: id, target: { type: 'partner', id }, detail: { partnerName: partner.name } });
  return true;
}
