import { z } from 'zod';
import type { Knex } from 'knex';
import { newId } from '../db/ids.ts';

export interface App {
  id: string;
  account_id: string;
  display_name: string;
  settings: AppSettings;
  metadata: Record<string, string | number | boolean> | null;
  created_at: Date;
}

const appName = z.string().trim().min(1, 'must not be empty').max(100);

/** The app settings of the platform's v2 API; unknown names are refused rather than dropped. */
export const appSettings = z
  .object({
    conversationRetentionSeconds: z.number().int().min(0),
    maskCreditCardNumbers: z.boolean(),
    useAnimalNames: z.boolean(),
    echoPostback: z.boolean(),
    ignoreAutoConversationStart: z.boolean(),
    multiConvoEnabled: z.boolean(),
    appLocalizationEnabled: z.boolean(),
  })
  .partial()
  .strict();

export type AppSettings = z.infer<typeof appSettings>;

export const defaultAppSettings: Required<AppSettings> = {
  conversationRetentionSeconds: 0,
  maskCreditCardNumbers: true,
  useAnimalNames: false,
  echoPostback: false,
  ignoreAutoConversationStart: false,
  multiConvoEnabled: false,
  appLocalizationEnabled: false,
};

/** An app's metadata as stored: a flat object of strings, numbers and booleans. */
export const appMetadataValues = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]));

/** Metadata as given: at most 4 KB as JSON, or null to clear it. */
const appMetadata = appMetadataValues
  .nullable()
  .refine((value) => Buffer.byteLength(JSON.stringify(value ?? {})) <= 4096, 'App metadata is limited to 4096 bytes in size.');

/** What an app is created with (POST /v2/apps) and changed with (PATCH /v2/apps/{appId}). */
export const appFields = z.object({ displayName: appName, settings: appSettings.optional(), metadata: appMetadata.optional() }).strict();
export const appChanges = appFields.partial().strict();

/** What an app is created with, unchecked: createApp validates it. */
export type AppInput = z.input<typeof appFields>;
export type AppChanges = z.input<typeof appChanges>;

/** Creates an app from unchecked input, validated here and only here. */
export async function createApp(db: Knex, accountId: string, input: AppInput): Promise<App> {
  const fields = appFields.parse(input);
  const [app] = await db('apps')
    .insert({
      id: newId(),
      account_id: accountId,
      display_name: fields.displayName,
      settings: JSON.stringify(fields.settings ?? {}),
      metadata: fields.metadata === undefined || fields.metadata === null ? null : JSON.stringify(fields.metadata),
    })
    .returning('*');
  return app as App;
}

/** Applies unchecked changes, validated here and only here; settings merge into the app's. */
export async function updateApp(db: Knex, app: App, changes: AppChanges): Promise<App> {
  const fields = appChanges.parse(changes);
  const columns = {
    ...(fields.displayName !== undefined ? { display_name: fields.displayName } : {}),
    ...(fields.settings !== undefined ? { settings: JSON.stringify({ ...app.settings, ...fields.settings }) } : {}),
    ...(fields.metadata !== undefined ? { metadata: fields.metadata === null ? null : JSON.stringify(fields.metadata) } : {}),
  };
  // Nothing to change (`{}`): the app as it is, as PATCH with no fields means.
  if (!Object.keys(columns).length) return app;
  const [updated] = await db('apps').where({ id: app.id }).update(columns).returning('*');
  return updated as App;
}

/** Deletes an app's row; its keys and authorizations go with it (foreign keys), see deleteAppWithItsGrants for its tokens. */
export async function deleteAppRow(db: Knex, appId: string): Promise<void> {
  await db('apps').where({ id: appId }).delete();
}

export async function findApp(db: Knex, id: string): Promise<App | undefined> {
  return db('apps').where({ id }).first();
}

export async function listAppsOfAccount(db: Knex, accountId: string): Promise<App[]> {
  return db('apps').where({ account_id: accountId }).orderBy([{ column: 'display_name' }, { column: 'id' }]);
}

export interface AppPage {
  apps: App[];
  hasMore: boolean;
}

/** One page of an account's apps in id order, after or before a cursor (an app id). */
export async function pageAppsOfAccount(
  db: Knex,
  accountId: string,
  page: { after?: string | undefined; before?: string | undefined; size: number },
): Promise<AppPage> {
  const query = db('apps').where({ account_id: accountId }).limit(page.size + 1);
  if (page.before !== undefined) {
    const rows: App[] = await query.andWhere('id', '<', page.before).orderBy('id', 'desc');
    return { apps: rows.slice(0, page.size).reverse(), hasMore: rows.length > page.size };
  }
  if (page.after !== undefined) query.andWhere('id', '>', page.after);
  const rows: App[] = await query.orderBy('id', 'asc');
  return { apps: rows.slice(0, page.size), hasMore: rows.length > page.size };
}
