import { z } from 'zod';
import type { Knex } from 'knex';
import { newId } from '../db/ids.ts';

export interface App {
  id: string;
  account_id: string;
  display_name: string;
  settings: Record<string, unknown>;
  metadata: Record<string, unknown> | null;
  created_at: Date;
}

export const appName = z.string().trim().min(1, 'must not be empty').max(200);

export async function createApp(db: Knex, accountId: string, displayName: string): Promise<App> {
  const [app] = await db('apps')
    .insert({ id: newId(), account_id: accountId, display_name: appName.parse(displayName) })
    .returning('*');
  return app as App;
}

export async function findApp(db: Knex, id: string): Promise<App | undefined> {
  return db('apps').where({ id }).first();
}

export async function listAppsOfAccount(db: Knex, accountId: string): Promise<App[]> {
  return db('apps').where({ account_id: accountId }).orderBy([{ column: 'display_name' }, { column: 'id' }]);
}
