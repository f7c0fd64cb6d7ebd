import type { Knex } from 'knex';
import type { Provider } from 'oidc-provider';
import type { Settings } from '../src/config/settings.ts';
import { createLogger } from '../src/log/logger.ts';
import { ClientSecretVerifier, clientAuthGuesses } from '../src/oauth/client-secrets.ts';
import { SharedCounters } from '../src/limits/shared-counters.ts';
import { createOAuthProvider, platformApiResource } from '../src/oauth/provider.ts';
import { RecordIds } from '../src/oauth/storage/record-ids.ts';
import { BearerDigests } from '../src/keys/bearer-digests.ts';
import { loadCookieKeys, loadKeyEncryptionKeys } from '../src/keys/server-keys.ts';
import { SecretBox } from '../src/keys/secret-box.ts';
import { SigningKeySet } from '../src/keys/signing-keys.ts';
import { passwordHasherFor } from '../src/accounts/password-hasher.ts';

/**
 * Codes handed out one per request. A code is single use: presenting one
 * twice is a replay, which revokes the whole grant. So the queue never hands
 * out a code twice, and when it runs dry it hands out a bogus one (an
 * ordinary invalid_grant, no revocation) and counts it as exhausted.
 */
export class CodeQueue {
  readonly #codes: string[] = [];
  exhausted = 0;

  add(codes: string[]): void {
    for (const code of codes) this.#codes.push(code);
  }

  get size(): number {
    return this.#codes.length;
  }

  next(): string {
    const code = this.#codes.pop();
    if (code !== undefined) return code;
    this.exhausted += 1;
    return `exhausted-${this.exhausted}`;
  }
}

export interface CodeMinter {
  /** What the minted codes look like (fields copied into each), for the results file. */
  readonly describe: Record<string, unknown>;
  mint(count: number): Promise<string[]>;
}

/** Seconds a minted code stays valid: long enough to mint ahead and run the scenario. */
const mintedCodeTtl = 600;

/** The fields oidc-provider's code response type sets on a code (lib/helpers/process_response_types.js). */
const codeFields = [
  'accountId', 'acr', 'amr', 'authTime', 'claims', 'codeChallenge', 'codeChallengeMethod', 'grantId', 'nonce',
  'redirectUri', 'resource', 'scope', 'sessionUid', 'expiresWithSession', 'sid', 'dpopJkt', 'rar',
] as const;

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
  const signingKeys = new SigningKeySet(db, new SecretBox(keyEncryptionKeys), settings.SIGNING_KEYS_REFRESH_INTERVAL_MS, logger);
  await signingKeys.start();
  signingKeys.stop();
  return createOAuthProvider({
    db,
    settings,
    logger,
    cookieKeys: await loadCookieKeys(db, settings.COOKIE_KEYS),
    signingKey: signingKeys.signingKey()!.jwk,
    secretVerifier: new ClientSecretVerifier(passwordHasherFor(settings)),
    recordIds: new RecordIds(new BearerDigests(keyEncryptionKeys)),
    clientAuthGuesses: clientAuthGuesses(new SharedCounters(db, settings.REDIS_URL), settings),
  });
}

/**
 * Mints codes like the one a real "Add to app" flow just produced: the real
 * code is read back with the engine's AuthorizationCode.find, and every
 * field the code response type sets on it (account, grant, redirect URL,
 * scope, resource, session binding, auth time) is copied into new
 * AuthorizationCode models, saved through the server's own adapter.
 */
export async function appgrantCodeMinter(provider: Provider, settings: Settings, realCode: string): Promise<CodeMinter> {
  const template = await provider.AuthorizationCode.find(realCode);
  if (!template) throw new Error('the code from the real flow was not found');
  const expectedResource = platformApiResource(settings);
  if (template.resource !== expectedResource) throw new Error(`unexpected code resource ${String(template.resource)}`);
  const client = template.clientId ? await provider.Client.find(template.clientId) : undefined;
  if (!client) throw new Error(`client ${String(template.clientId)} not found`);
  const fields: Record<string, unknown> = {};
  for (const name of codeFields) {
    const value = (template as unknown as Record<string, unknown>)[name];
    if (value !== undefined) fields[name] = value;
  }
  const properties = {
    ...fields,
    client,
    accountId: template.accountId!,
    grantId: template.grantId!,
    scope: template.scope ?? '',
    gty: 'authorization_code',
    expiresIn: mintedCodeTtl,
  };
  return {
    describe: { clientId: client.clientId, ...fields },
    mint: (count) => inParallel(count, 16, () => new provider.AuthorizationCode(properties).save()),
  };
}

/**
 * Codes from the bare oidc-provider baseline's bench-only POST /__mint route;
 * session-bound like appgrant's when the real code was.
 */
export function bareCodeMinter(base: string, sessionBound: boolean): CodeMinter {
  return {
    describe: { via: `${base}/__mint`, sessionBound },
    mint: async (count) => {
      const codes: string[] = [];
      for (let remaining = count; remaining > 0; remaining -= 5000) {
        const response = await fetch(`${base}/__mint?n=${Math.min(5000, remaining)}${sessionBound ? '&sessionBound=1' : ''}`, { method: 'POST' });
        if (response.status !== 200) throw new Error(`mint failed: HTTP ${response.status} ${await response.text()}`);
        codes.push(...((await response.json()) as { codes: string[] }).codes);
      }
      return codes;
    },
  };
}
