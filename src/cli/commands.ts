import { parseArgs } from 'node:util';
import type { Knex } from 'knex';
import { ZodError } from 'zod';
import type { Settings } from '../config/settings.ts';
import type { PasswordHasher } from '../accounts/password-hasher.ts';
import { createAccount, DuplicateEmailError, findAccountByReference } from '../accounts/accounts.ts';
import { createApp } from '../apps/apps.ts';
import { createPartner, createResourceServer, describePartner, listPartners } from '../partners/partners.ts';
import { migrateToLatest } from '../db/database.ts';
import { rotateSigningKeys } from '../oauth/server-keys.ts';

export interface CommandContext {
  db: Knex;
  settings: Settings;
  hasher: PasswordHasher;
}

/** A mistake in what the operator typed: reported as is, with exit code 2. */
export class UsageError extends Error {}

type Options = Record<string, string | boolean | string[] | undefined>;

interface Command {
  usage: string;
  options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }>;
  required?: string[];
  run(context: CommandContext, options: Options): Promise<unknown>;
}

const text = (options: Options, name: string) => options[name] as string | undefined;
const list = (options: Options, name: string) => (options[name] as string[] | undefined) ?? [];

const commands: Record<string, Command> = {
  migrate: {
    usage: 'migrate',
    options: {},
    run: async ({ db }) => ({ applied: await migrateToLatest(db) }),
  },
  'account create': {
    usage: 'account create --email E --password P [--name N]',
    options: { email: { type: 'string' }, password: { type: 'string' }, name: { type: 'string' } },
    required: ['email', 'password'],
    run: async ({ db, hasher }, options) => {
      const account = await createAccount(db, hasher, {
        email: text(options, 'email') ?? '',
        password: text(options, 'password') ?? '',
        name: text(options, 'name'),
      });
      return { id: account.id, email: account.email, name: account.name };
    },
  },
  'app create': {
    usage: 'app create --account <id or email> --name N',
    options: { account: { type: 'string' }, name: { type: 'string' } },
    required: ['account', 'name'],
    run: async ({ db }, options) => {
      const account = await findAccountByReference(db, text(options, 'account') ?? '');
      if (!account) throw new UsageError(`no account ${text(options, 'account')}`);
      const app = await createApp(db, account.id, text(options, 'name') ?? '');
      return { id: app.id, name: app.display_name, account_id: account.id };
    },
  },
  'partner create': {
    usage: 'partner create --name N --redirect-uri U [--redirect-uri U2 …] [--permission P …] [--remove-url U] [--logo-url U] [--website U]',
    options: {
      name: { type: 'string' },
      'redirect-uri': { type: 'string', multiple: true },
      permission: { type: 'string', multiple: true },
      'remove-url': { type: 'string' },
      'logo-url': { type: 'string' },
      website: { type: 'string' },
    },
    required: ['name', 'redirect-uri'],
    run: async ({ db, hasher, settings }, options) => {
      const { partner, clientSecret } = await createPartner(db, hasher, settings.production, {
        name: text(options, 'name') ?? '',
        redirectUris: list(options, 'redirect-uri'),
        permissions: list(options, 'permission'),
        removeUrl: text(options, 'remove-url'),
        logoUrl: text(options, 'logo-url'),
        website: text(options, 'website'),
      });
      return describePartner(partner, clientSecret);
    },
  },
  'partner list': {
    usage: 'partner list',
    options: {},
    run: async ({ db }) => ({ partners: (await listPartners(db)).map((partner) => describePartner(partner)) }),
  },
  'resource-server create': {
    usage: 'resource-server create --name N',
    options: { name: { type: 'string' } },
    required: ['name'],
    run: async ({ db, hasher }, options) => {
      const { partner, clientSecret } = await createResourceServer(db, hasher, text(options, 'name') ?? '');
      return describePartner(partner, clientSecret);
    },
  },
  'signing-keys rotate': {
    usage: 'signing-keys rotate',
    options: {},
    run: async ({ db }) => rotateSigningKeys(db),
  },
};

export function usage(): string {
  return ['usage: appgrant <command> [options]', ...Object.values(commands).map((command) => `  appgrant ${command.usage}`)].join('\n');
}

/** Finds the command named by the first words of argv and parses the rest as its options. */
export function parseCommand(argv: string[]): { name: string; command: Command; options: Options } {
  const name = [argv.slice(0, 2).join(' '), argv[0] ?? ''].find((candidate) => commands[candidate]);
  if (!name) throw new UsageError(usage());
  const command = commands[name] as Command;
  let values: Options;
  try {
    ({ values } = parseArgs({ args: argv.slice(name.split(' ').length), options: command.options, strict: true, allowPositionals: false }) as {
      values: Options;
    });
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\nusage: appgrant ${command.usage}`);
  }
  const missing = (command.required ?? []).filter((option) => values[option] === undefined);
  if (missing.length) throw new UsageError(`missing ${missing.map((option) => `--${option}`).join(', ')}\nusage: appgrant ${command.usage}`);
  return { name, command, options: values };
}

/** Runs one CLI command; the result is what the CLI prints as JSON. */
export async function runCommand(context: CommandContext, argv: string[]): Promise<unknown> {
  const { command, options } = parseCommand(argv);
  try {
    return await command.run(context, options);
  } catch (error) {
    if (error instanceof ZodError) {
      throw new UsageError(error.issues.map((issue) => `${issue.path.join('.') || 'input'}: ${issue.message}`).join('; '));
    }
    if (error instanceof DuplicateEmailError) throw new UsageError(error.message);
    throw error;
  }
}
