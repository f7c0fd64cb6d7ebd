import { z } from 'zod';
import type { Knex } from 'knex';
import { newId } from '../db/ids.ts';
import type { PasswordHasher } from './password-hasher.ts';
import { newPassword } from './password-policy.ts';

export interface Account {
  id: string;
  email: string;
  name: string;
  created_at: Date;
}

const accountInput = z.object({
  email: z.email().max(320).transform((email) => email.toLowerCase()),
  password: newPassword,
  name: z.string().trim().max(200).default(''),
});

export class DuplicateEmailError extends Error {
  constructor() {
    super('an account with this email already exists');
  }
}

const publicColumns = ['id', 'email', 'name', 'created_at'] as const;

export async function createAccount(
  db: Knex,
  hasher: PasswordHasher,
  input: z.input<typeof accountInput>,
): Promise<Account> {
  const { email, password, name } = await accountInput.parseAsync(input);
  const passwordHash = await hasher.hash(password);
  try {
    const [account] = await db('accounts')
      .insert({ id: newId(), email, name, password_hash: passwordHash })
      .returning(publicColumns);
    return account as Account;
  } catch (error) {
    if (isUniqueViolation(error)) throw new DuplicateEmailError();
    throw error;
  }
}

function isUniqueViolation(error: unknown): boolean {
  return (error as { code?: string } | null)?.code === '23505';
}

export async function findAccount(db: Knex, id: string): Promise<Account | undefined> {
  return db('accounts').select(publicColumns).where({ id }).first();
}

/** By id, or by email when the reference looks like one (what operators type). */
export async function findAccountByReference(db: Knex, reference: string): Promise<Account | undefined> {
  const query = db('accounts').select(publicColumns);
  return reference.includes('@')
    ? query.whereRaw('lower(email) = ?', [reference.toLowerCase()]).first()
    : query.where({ id: reference }).first();
}

/** The account with this email (any case), if there is one. */
export async function findAccountByEmail(db: Knex, email: string): Promise<Account | undefined> {
  if (!email) return undefined;
  return db('accounts').select(publicColumns).whereRaw('lower(email) = ?', [email.trim().toLowerCase()]).first();
}

/** The account whose password matches, or undefined; equal cost whether or not the email exists. */
export async function authenticateAccount(
  db: Knex,
  hasher: PasswordHasher,
  email: string,
  password: string,
): Promise<Account | undefined> {
  const row = await db('accounts')
    .select([...publicColumns, 'password_hash'])
    .whereRaw('lower(email) = ?', [email.trim().toLowerCase()])
    .first();
  const matches = await hasher.verify(row?.password_hash, password);
  if (!row || !matches) return undefined;
  const { password_hash: _hash, ...account } = row;
  return account as Account;
}
