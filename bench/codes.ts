import type { Knex } from 'knex';
import type { Provider } from 'oidc-provider';
import type { Settings } from '../src/config/settings.ts';
import { createLogger } from '../src/log/logger.ts';
import { ClientSecretVerifier, clientAuthGuesses } from '../src/oauth/client-secrets.ts';
import { SharedCounters } from '../src/limits/shared-counters.ts';
import { createOAuthProvider, platformApiResource } from '../src/oauth/provider.ts';
import { RecordIds } from '../src/oauth/storage/record-ids.ts';
import { BearerDigests } from '../src/keys/bearer-digests.ts';
import { PartnerSecretHasher } from '../src/partners/partner-secrets.ts';
import { loadCookieKeys, loadKeyEncryptionKeys } from '../src/keys/server-keys.ts';
import { SecretBox } from '../src/keys/secret-box.ts';
import { SigningKeySet } from '../src/keys/signing-keys.ts';
import { passwordHasherFor } from '../src/accounts/password-hasher.ts';

/**
 * Codes (or refresh tokens) handed out one per request. Both are single use:
 * presenting one twice is a replay, which revokes the whole grant. So the
 * queue never hands out one twice, and when it runs dry it hands out a bogus
 * one (an ordinary invalid_grant, no revocation) and counts it as exhausted.
 */
export class TokenQueue {
  readonly #tokens: string[] = [];
  exhausted = 0;

  add(tokens: string[]): void {
    for (const token of tokens) this.#tokens.push(token);
  }

  get size(): number {
    return this.#tokens.length;
  }

  next(): string {
    const token = this.#tokens.pop();
    if (token !== undefined) return token;
    this.exhausted += 1;
    return `exhausted-${this.exhausted}`;
  }
}

export interface CodeMinter {
  /** What the minted codes look like (fields copied into each), for the results file. */
  readonly describe: Record<string, unknown>;
  mint(count: number): Promise<string[]>;
}

/** Seconds a minted code or refresh token stays valid: long enough to mint ahead and run the scenario. */
const mintedTtl = 600;

/**
 * The fields the engine sets on a code (its code response type,
 * lib/helpers/process_response_types.js) and on a refresh token (the code
 * exchange, lib/helpers/grant_common.js).
 */
const templateFields = {
  AuthorizationCode: [
    'accountId', 'acr', 'amr', 'authTime', 'claims', 'codeChallenge', 'codeChallengeMethod', 'grantId', 'nonce',
    'redirectUri', 'resource', 'scope', 'sessionUid', 'expiresWithSession', 'sid', 'dpopJkt', 'rar',
  ],
  RefreshToken: [
    'accountId', 'acr', 'amr', 'authTime', 'claims', 'expiresWithSession', 'grantId', 'gty', 'nonce', 'resource',
    'rotations', 'scope', 'sessionUid', 'sid', 'rar', 'jkt',
  ],
} as const;

async function inParallel(count: number, parallelism: number, task: () => Promise<string>): Promise<string[]> {
  const results: string[] = [];
  let started = 0;
  const worker = async () => {
    while (started < count) {
      started += 1;
      results.push(await task());
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallelism, count) }, worker));
  return results;
}

/**
 * An oidc-provider built exactly as the server builds it (same settings,
 * same database, the same signing and cookie keys read through
 * server-keys.ts), used only to create codes with the engine's own model.
 */
export async function appgrantProvider(db: Knex, settings: Settings): Promise<Provider> {
  const logger = createLogger('warn');
  const keyEncryptionKeys = await loadKeyEncryptionKeys(db, settings.KEY_ENCRYPTION_KEYS);
  const box = new SecretBox(keyEncryptionKeys);
  const signingKeys = new SigningKeySet(db, box, settings.SIGNING_KEYS_REFRESH_INTERVAL_MS, logger);
  await signingKeys.start();
  signingKeys.stop();
  return createOAuthProvider({
    db,
    settings,
    logger,
    cookieKeys: await loadCookieKeys(db, settings.COOKIE_KEYS, box),
    signingKey: signingKeys.signingKey()!.jwk,
    secretVerifier: new ClientSecretVerifier(passwordHasherFor(settings), new PartnerSecretHasher(new BearerDigests(keyEncryptionKeys))),
    recordIds: new RecordIds(new BearerDigests(keyEncryptionKeys)),
    clientAuthGuesses: clientAuthGuesses(new SharedCounters(db, settings.REDIS_URL), settings),
  });
}

/**
 * Mints codes (or refresh tokens) like one a real "Add to app" flow just
 * produced: the real one is read back with the engine's own model, and every
 * field the engine sets on it (account, grant, redirect URL, scope,
 * resource, session binding, auth time) is copied into new models of the
 * same kind, saved through the server's own adapter.
 */
export async function appgrantMinter(provider: Provider, settings: Settings, model: keyof typeof templateFields, real: string): Promise<CodeMinter> {
  const Model = provider[model] as unknown as {
    new (properties: Record<string, unknown>): { save(): Promise<string> };
    find(value: string, options: { ignoreExpiration: boolean }): Promise<(Record<string, unknown> & { clientId?: string; resource?: unknown }) | undefined>;
  };
  const template = await Model.find(real, { ignoreExpiration: true });
  if (!template) throw new Error(`the ${model} from the real flow was not found`);
  const expectedResource = platformApiResource(settings);
  if (template.resource !== expectedResource) throw new Error(`unexpected ${model} resource ${String(template.resource)}`);
  const client = template.clientId ? await provider.Client.find(template.clientId) : undefined;
  if (!client) throw new Error(`client ${String(template.clientId)} not found`);
  const fields: Record<string, unknown> = {};
  for (const name of templateFields[model]) {
    const value = template[name];
    if (value !== undefined) fields[name] = value;
  }
  const properties = { ...fields, client, expiresIn: mintedTtl };
  return {
    describe: { model, clientId: client.clientId, ...fields },
    mint: (count) => inParallel(count, 16, () => new Model(properties).save()),
  };
}

/**
 * The same minter, with the table the tokens went into analysed after each
 * batch. Tens of thousands of rows written in seconds leave PostgreSQL's
 * statistics describing a nearly empty table until autovacuum comes round
 * (a minute or more later), and the plans made from them, prepared
 * statements' generic plans included, then scan every row of a kind instead
 * of looking one up: 5 to 16 ms per statement, measured with auto_explain.
 * A table in service grows gradually and is analysed as it goes.
 */
export function analyzingAfter(minter: CodeMinter, analyze: () => Promise<unknown>): CodeMinter {
  return {
    describe: minter.describe,
    mint: async (count) => {
      const tokens = await minter.mint(count);
      await analyze();
      return tokens;
    },
  };
}

/** Codes (or refresh tokens) from an engine baseline's bench-only POST /__mint route (baselines/engine.ts). */
export function engineMinter(base: string, kind: 'code' | 'refresh_token'): CodeMinter {
  return {
    describe: { via: `${base}/__mint`, kind },
    mint: async (count) => {
      const tokens: string[] = [];
      for (let remaining = count; remaining > 0; remaining -= 5000) {
        const response = await fetch(`${base}/__mint?n=${Math.min(5000, remaining)}&kind=${kind}`, { method: 'POST' });
        if (response.status !== 200) throw new Error(`mint failed: HTTP ${response.status} ${await response.text()}`);
        tokens.push(...((await response.json()) as { tokens: string[] }).tokens);
      }
      return tokens;
    },
  };
}
