import { parseArgs } from 'node:util';
import type { Knex } from 'knex';
import { ZodError } from 'zod';
import type { Settings } from '../config/settings.ts';
import type { PasswordHasher } from '../accounts/password-hasher.ts';
import { createAccount, DuplicateEmailError, findAccountByReference } from '../accounts/accounts.ts';
import { createApp } from '../apps/apps.ts';
import { createPartner, createResourceServer, describePartner, findPartner, listPartners, setPartnerSuspended } from '../partners/partners.ts';
import { deleteIntegration, endTokensOfPartner, tokenRevocationReason } from '../oauth/storage/token-revocation.ts';
import { approvePartner, updatePartner } from '../partners/partner-changes.ts';
import { narrowToRegistered } from '../oauth/approvals.ts';
import { platformApiResource } from '../oauth/provider.ts';
import { findLiveAuthorization, listLiveAuthorizations } from '../authorizations/authorizations.ts';
import { revokeGrant } from '../oauth/storage/grant-revocation.ts';
import { migrateToLatest } from '../db/database.ts';
import { ensureSigningKeys, listSigningKeys, retireSigningKey, rotateSigningKey, SigningKeyRefusal, type SigningKeyRules } from '../keys/signing-keys.ts';
import { findApp } from '../apps/apps.ts';
import { createApiKey, createServiceAccount, findServiceAccount, revokeApiKey, type KeyEvents, type KeyOwner } from '../credentials/api-keys.ts';
import type { SecretBox } from '../keys/secret-box.ts';
import { presentNewKey } from '../api/presenters.ts';
import { partnerSecretsFor } from '../partners/partner-secrets.ts';
import { issuesSentence } from '../http/problems.ts';
import { eventsAfter, eventTypes, presentEvent, recordEvent, type EventFilter } from '../events/events.ts';
import { sweepOptionsFrom, sweepRetention } from '../retention/sweep.ts';

export interface CommandContext {
  db: Knex;
  settings: Settings;
  hasher: PasswordHasher;
  /** Opened on demand: `migrate` runs before the table its keys may live in exists. */
  box: () => Promise<SecretBox>;
  /** Where a running server counts keys created and revoked through its control socket. */
  keyEvents?: KeyEvents;
}

/** A mistake in what the operator typed: reported as is, with exit code 2. */
export class UsageError extends Error {}

type Options = Record<string, string | boolean | string[] | undefined>;

interface Command {
  usage: string;
  options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }>;
  required?: string[];
  /** The name one required positional argument is given in the options. */
  positional?: string;
  /** Runs its own short transactions (not one around the whole command); its event is recorded once it is done. */
  ownTransactions?: boolean;
  run(context: CommandContext, options: Options): Promise<unknown>;
}

const text = (options: Options, name: string) => options[name] as string | undefined;
const list = (options: Options, name: string) => (options[name] as string[] | undefined) ?? [];

/** The options naming a partner's fields, and the field each sets. */
const partnerFieldOf = {
  name: 'name',
  'redirect-uri': 'redirectUris',
  permission: 'permissions',
  'remove-url': 'removeUrl',
  'logo-url': 'logoUrl',
  website: 'website',
  description: 'description',
  developer: 'developer',
  'privacy-policy-url': 'privacyPolicyUrl',
  'terms-url': 'termsUrl',
  'access-note': 'accessNote',
  'optional-permission': 'optionalPermissions',
} as const;
const partnerFieldOptions: Command['options'] = Object.fromEntries(
  Object.keys(partnerFieldOf).map((option) => [option, { type: 'string', ...(['redirect-uri', 'permission', 'optional-permission'].includes(option) ? { multiple: true } : {}) }]),
);

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
      const account = await accountFrom(db, options);
      const app = await createApp(db, account.id, { displayName: text(options, 'name') ?? '' });
      return { id: app.id, name: app.display_name, account_id: account.id };
    },
  },
  'partner create': {
    usage: 'partner create --name N --redirect-uri U [--redirect-uri U2 …] --permission P [--permission P2 …] (or --permission all) [--remove-url U] [--logo-url U] [--website U] [--description D] [--developer NAME] [--privacy-policy-url U] [--terms-url U]',
    options: {
      name: { type: 'string' },
      'redirect-uri': { type: 'string', multiple: true },
      permission: { type: 'string', multiple: true },
      'remove-url': { type: 'string' },
      'logo-url': { type: 'string' },
      website: { type: 'string' },
      description: { type: 'string' },
      developer: { type: 'string' },
      'privacy-policy-url': { type: 'string' },
      'terms-url': { type: 'string' },
    },
    required: ['name', 'redirect-uri', 'permission'],
    run: async ({ db, settings }, options) => {
      const { partner, clientSecret } = await createPartner(db, await partnerSecretsFor(db, settings.KEY_ENCRYPTION_KEYS), settings, {
        name: text(options, 'name') ?? '',
        redirectUris: list(options, 'redirect-uri'),
        permissions: list(options, 'permission'),
        removeUrl: text(options, 'remove-url'),
        logoUrl: text(options, 'logo-url'),
        website: text(options, 'website'),
        description: text(options, 'description'),
        developer: text(options, 'developer'),
        privacyPolicyUrl: text(options, 'privacy-policy-url'),
        termsUrl: text(options, 'terms-url'),
      });
      return describePartner(partner, clientSecret);
    },
  },
  'partner update': {
    usage: 'partner update CLIENT_ID [--name N] [--redirect-uri U …] [--permission P …] [--remove-url U] [--logo-url U] [--website U] [--description D] [--developer NAME] [--privacy-policy-url U] [--terms-url U] [--access-note TEXT] [--optional-permission P …]   (an empty value clears an optional field; in force at once)',
    options: { ...partnerFieldOptions },
    positional: 'id',
    run: async ({ db, settings }, options) => {
      const changes = Object.fromEntries(
        Object.entries(partnerFieldOptions)
          .filter(([option]) => options[option] !== undefined)
          .map(([option]) => [partnerFieldOf[option as keyof typeof partnerFieldOf], options[option]]),
      );
      if (!Object.keys(changes).length) throw new UsageError('name at least one field to change');
      const updated = await updatePartner(db, settings, text(options, 'id') ?? '', changes, { type: 'operator' });
      if (!updated) throw new UsageError(`no partner ${text(options, 'id')}`);
      await narrowInstallations(db, settings, updated.partner);
      return { ...describePartner(updated.partner), changed: updated.applied };
    },
  },
  'partner delete': {
    usage: 'partner delete CLIENT_ID   (every authorization ends, each reported to the partner as removed)',
    options: {},
    positional: 'id',
    run: async ({ db }, options) => {
      const id = text(options, 'id') ?? '';
      if (!(await deleteIntegration(db, id, { type: 'operator' }))) throw new UsageError(`no partner ${id}`);
      return { client_id: id, deleted: true };
    },
  },
  'partner list': {
    usage: 'partner list',
    options: {},
    run: async ({ db }) => ({ partners: (await listPartners(db)).map((partner) => describePartner(partner)) }),
  },
  'partner approve': {
    usage: 'partner approve CLIENT_ID',
    options: {},
    positional: 'id',
    run: async ({ db, settings }, options) => {
      const partner = await approvePartner(db, text(options, 'id') ?? '');
      if (!partner) throw new UsageError(`no partner ${text(options, 'id')}`);
      await narrowInstallations(db, settings, partner);
      return describePartner(partner);
    },
  },
  'partner suspend': {
    usage: 'partner suspend CLIENT_ID',
    options: {},
    positional: 'id',
    run: async ({ db }, options) => suspension(db, text(options, 'id') ?? '', true),
  },
  'partner resume': {
    usage: 'partner resume CLIENT_ID',
    options: {},
    positional: 'id',
    run: async ({ db }, options) => suspension(db, text(options, 'id') ?? '', false),
  },
  'partner revoke-tokens': {
    usage: 'partner revoke-tokens CLIENT_ID [--reason CODE]   (ends every token and key of the partner, keeps approvals)',
    options: { reason: { type: 'string' } },
    positional: 'id',
    run: async ({ db }, options) => {
      const partner = await findPartner(db, text(options, 'id') ?? '');
      if (!partner || partner.role !== 'partner') throw new UsageError(`no partner ${text(options, 'id')}`);
      const reason = text(options, 'reason') ?? 'operator';
      if (!tokenRevocationReason.test(reason)) throw new UsageError('--reason takes a short code of lowercase letters, digits and _, e.g. secret_leak');
      const authorizations = await endTokensOfPartner(db, partner.id, reason, { type: 'operator' });
      return { client_id: partner.id, reason, authorizations };
    },
  },
  'authorization list': {
    usage: 'authorization list [--app ID] [--partner CLIENT_ID]',
    options: { app: { type: 'string' }, partner: { type: 'string' } },
    run: async ({ db }, options) => {
      const authorizations = await listLiveAuthorizations(db, { appId: text(options, 'app'), partnerId: text(options, 'partner') });
      return {
        authorizations: authorizations.map(({ id, partner_id, app_id, account_id, permissions, created_at, updated_at, last_used_at }) => ({
          id, partner_id, app_id, account_id, permissions, created_at, updated_at, last_used_at,
        })),
      };
    },
  },
  'authorization revoke': {
    usage: 'authorization revoke ID',
    options: {},
    positional: 'id',
    run: async ({ db }, options) => {
      const authorization = await findLiveAuthorization(db, text(options, 'id') ?? '');
      if (!authorization) throw new UsageError(`no live authorization ${text(options, 'id')}`);
      await revokeGrant(db, authorization.grant_id, { cause: 'operator', actor: { type: 'operator' } });
      return { id: authorization.id, revoked: true };
    },
  },
  'resource-server create': {
    usage: 'resource-server create --name N',
    options: { name: { type: 'string' } },
    required: ['name'],
    run: async ({ db, settings }, options) => {
      const { partner, clientSecret } = await createResourceServer(db, await partnerSecretsFor(db, settings.KEY_ENCRYPTION_KEYS), text(options, 'name') ?? '');
      return describePartner(partner, clientSecret);
    },
  },
  'service-account create': {
    usage: 'service-account create --account <id or email> --name N',
    options: { account: { type: 'string' }, name: { type: 'string' } },
    required: ['account', 'name'],
    run: async ({ db }, options) => {
      const account = await accountFrom(db, options);
      return createServiceAccount(db, account.id, text(options, 'name') ?? '');
    },
  },
  'key create': {
    usage: 'key create (--app ID | --account <id or email> | --service-account ID) --permission P [--permission P2 …] (or --permission all) [--name N] [--expires ISO] [--allow-ip CIDR …]',
    options: {
      app: { type: 'string' },
      account: { type: 'string' },
      'service-account': { type: 'string' },
      name: { type: 'string' },
      permission: { type: 'string', multiple: true },
      expires: { type: 'string' },
      'allow-ip': { type: 'string', multiple: true },
    },
    required: ['permission'],
    run: async ({ db, box, keyEvents }, options) => {
      const owner = await keyOwnerFrom(db, options);
      const { key, secret } = await createApiKey(db, await box(), owner, {
        displayName: text(options, 'name') ?? 'Operator key',
        permissions: list(options, 'permission'),
        expiresAt: text(options, 'expires'),
        allowedIps: list(options, 'allow-ip'),
      }, { events: keyEvents, audit: { actor: { type: 'operator' } } });
      return { ...presentNewKey(key, secret), level: owner.type === 'app' ? 'app' : 'account', owner: owner.type };
    },
  },
  'key revoke': {
    usage: 'key revoke ID',
    options: {},
    positional: 'id',
    run: async ({ db, keyEvents }, options) => {
      const id = text(options, 'id') ?? '';
      if (!(await revokeApiKey(db, id, undefined, { actor: { type: 'operator' } }, keyEvents))) throw new UsageError(`no live key ${id}`);
      return { id, revoked: true };
    },
  },
  'signing-keys rotate': {
    usage: 'signing-keys rotate',
    options: {},
    run: async ({ db, box, settings }) => {
      // Before any server has run, the set is still empty: its first key signs at once, the new one after the delay.
      await ensureSigningKeys(db, await box());
      const rotated = await rotateSigningKey(db, await box(), signingKeyRules(settings));
      await recordEvent(db, { type: 'signing_key.rotated', actor: { type: 'operator' }, target: { type: 'signing_key', id: rotated.kid } });
      return rotated;
    },
  },
  'signing-keys list': {
    usage: 'signing-keys list',
    options: {},
    run: async ({ db }) => ({ keys: await listSigningKeys(db) }),
  },
  events: {
    usage: 'events [--account <id or email>] [--app ID] [--partner CLIENT_ID] [--type T …] [--since ISO] [--after ID] [--follow]',
    options: {
      account: { type: 'string' },
      app: { type: 'string' },
      partner: { type: 'string' },
      type: { type: 'string', multiple: true },
      since: { type: 'string' },
      after: { type: 'string' },
      follow: { type: 'boolean' },
    },
    run: async ({ db }, options) => {
      const after = text(options, 'after');
      if (after !== undefined && !/^\d{1,18}$/.test(after)) throw new UsageError('--after takes an event id');
      return { events: (await eventsAfter(db, await eventFilterFrom(db, options), after, eventBatch)).map(presentEvent) };
    },
  },
  sweep: {
    usage: 'sweep',
    options: {},
    ownTransactions: true,
    run: async ({ db, settings }) => sweepRetention(db, sweepOptionsFrom(settings)),
  },
  'signing-keys retire': {
    usage: 'signing-keys retire KID',
    options: {},
    positional: 'kid',
    run: async ({ db, settings }, options) => {
      const retired = await retireSigningKey(db, text(options, 'kid') ?? '', signingKeyRules(settings));
      await recordEvent(db, { type: 'signing_key.retired', actor: { type: 'operator' }, target: { type: 'signing_key', id: retired.kid } });
      return retired;
    },
  },
};

/** Permissions the partner no longer registers leave its installations, in the command's transaction. */
async function narrowInstallations(db: Knex, settings: Settings, partner: { id: string; permissions: string[] }): Promise<void> {
  await db.transaction((trx) => narrowToRegistered(trx, partner.id, partner.permissions, platformApiResource(settings), { type: 'operator' }));
}

/** Suspends or resumes a partner; says whether anything changed. */
async function suspension(db: Knex, id: string, suspend: boolean) {
  const result = await setPartnerSuspended(db, id, suspend);
  if (!result) throw new UsageError(`no partner ${id}`);
  return { client_id: result.partner.id, suspended: result.partner.suspended_at !== null, suspended_at: result.partner.suspended_at, changed: result.changed };
}

/** How many events one `events` call returns; the CLI asks again from the last one until none are left. */
export const eventBatch = 500;

async function eventFilterFrom(db: Knex, options: Options): Promise<EventFilter> {
  const since = text(options, 'since');
  if (since !== undefined && Number.isNaN(Date.parse(since))) throw new UsageError('--since takes an ISO date or time');
  const types = list(options, 'type');
  const unknown = types.filter((type) => !(eventTypes as readonly string[]).includes(type));
  if (unknown.length) throw new UsageError(`unknown event type ${unknown.join(', ')}; known: ${eventTypes.join(', ')}`);
  return {
    accountId: options.account !== undefined ? (await accountFrom(db, options)).id : undefined,
    appId: text(options, 'app'),
    partnerId: text(options, 'partner'),
    types,
    since: since !== undefined ? new Date(since) : undefined,
  };
}

/** Commands that only read: every other command changes something and is recorded as the operator's. */
const readingCommands = new Set(['migrate', 'partner list', 'authorization list', 'signing-keys list', 'events']);

function signingKeyRules(settings: Settings): SigningKeyRules {
  return { activationDelaySeconds: settings.SIGNING_KEY_ACTIVATION_DELAY, retiredRetentionSeconds: settings.SIGNING_KEY_RETIRED_RETENTION };
}

/** The account named by --account, by id or email. */
async function accountFrom(db: Knex, options: Options) {
  const account = await findAccountByReference(db, text(options, 'account') ?? '');
  if (!account) throw new UsageError(`no account ${text(options, 'account')}`);
  return account;
}

/** Exactly one of --app, --account, --service-account names who owns a new key. */
async function keyOwnerFrom(db: Knex, options: Options): Promise<KeyOwner> {
  const named = ['app', 'account', 'service-account'].filter((option) => options[option] !== undefined);
  if (named.length !== 1) throw new UsageError('name exactly one of --app, --account, --service-account');
  if (options.app !== undefined) {
    const app = await findApp(db, text(options, 'app') ?? '');
    if (!app) throw new UsageError(`no app ${text(options, 'app')}`);
    return { type: 'app', appId: app.id, accountId: app.account_id };
  }
  if (options.account !== undefined) {
    return { type: 'account', accountId: (await accountFrom(db, options)).id };
  }
  const serviceAccount = await findServiceAccount(db, text(options, 'service-account') ?? '');
  if (!serviceAccount) throw new UsageError(`no service account ${text(options, 'service-account')}`);
  return { type: 'service_account', serviceAccountId: serviceAccount.id, accountId: serviceAccount.account_id };
}

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
    const parsedArgs = parseArgs({ args: argv.slice(name.split(' ').length), options: command.options, strict: true, allowPositionals: Boolean(command.positional) });
    values = parsedArgs.values as Options;
    if (command.positional) {
      if (parsedArgs.positionals.length !== 1) throw new Error(`expects exactly one ${command.positional}`);
      values[command.positional] = parsedArgs.positionals[0];
    }
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\nusage: appgrant ${command.usage}`);
  }
  const missing = (command.required ?? []).filter((option) => values[option] === undefined);
  if (missing.length) throw new UsageError(`missing ${missing.map((option) => `--${option}`).join(', ')}\nusage: appgrant ${command.usage}`);
  return { name, command, options: values };
}

/** Runs one CLI command; the result is what the CLI prints as JSON. */
export async function runCommand(context: CommandContext, argv: string[]): Promise<unknown> {
  const { name, command, options } = parseCommand(argv);
  try {
    if (readingCommands.has(name)) return await command.run(context, options);
    if (command.ownTransactions) {
      const result = await command.run(context, options);
      await recordOperatorCommand(context.db, name, options, result);
      return result;
    }
    // A change and the event recording it commit together, or neither does.
    // The key box is opened first: with the embedded database the
    // transaction holds the only connection, so nothing may query beside it.
    const box = await context.box();
    return await context.db.transaction(async (trx) => {
      const result = await command.run({ ...context, db: trx, box: async () => box }, options);
      await recordOperatorCommand(trx, name, options, result);
      return result;
    });
  } catch (error) {
    if (error instanceof ZodError) {
      throw new UsageError(issuesSentence(error, {}, 'input'));
    }
    if (error instanceof DuplicateEmailError || error instanceof SigningKeyRefusal) throw new UsageError(error.message);
    throw error;
  }
}

/** What the audit trail keeps of an operator's command: its name, the options given (names only, never values) and what it acted on. */
async function recordOperatorCommand(db: Knex, name: string, options: Options, result: unknown): Promise<void> {
  const acted = (result ?? {}) as { id?: unknown; client_id?: unknown; kid?: unknown };
  const targetId = [acted.id, acted.client_id, acted.kid].find((value): value is string => typeof value === 'string');
  await recordEvent(db, {
    type: 'operator.command',
    actor: { type: 'operator' },
    ...(targetId ? { target: { type: targetTypeOf(name), id: targetId } } : {}),
    detail: { command: name, options: Object.keys(options).filter((option) => options[option] !== undefined).sort() },
  });
}

function targetTypeOf(command: string) {
  const subject = command.split(' ')[0];
  if (subject === 'key') return 'key';
  if (subject === 'partner' || subject === 'resource-server') return 'partner';
  if (subject === 'signing-keys') return 'signing_key';
  if (subject === 'authorization') return 'authorization';
  if (subject === 'app') return 'app';
  return 'account';
}
