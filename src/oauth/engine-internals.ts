import type { Context, Middleware } from 'koa';
import compose from 'koa-compose';
import type { Provider } from 'oidc-provider';
import { replayBody } from '../http/request-body.ts';

/*
 * Every place appgrant relies on how oidc-provider works inside rather than
 * on its documented configuration. A minor release may change any of them,
 * so package.json pins the engine to patch releases, and each seam has its
 * own test in test/oauth/engine-internals.test.ts that fails when the engine
 * no longer behaves as assumed here.
 */

/**
 * The provider is itself a Koa application. Its middleware runs on the
 * caller's own request context, as a mounted application's does, rather than
 * through a second application and context per request; `before` runs first.
 */
export function engineMiddleware(provider: Provider, before: readonly Middleware[] = []): (ctx: Context) => Promise<void> {
  const handle = compose([...before, ...(provider as unknown as { middleware: Middleware[] }).middleware] as Middleware[]);
  return (ctx) => handle(ctx as never);
}

/**
 * Extra client metadata (declared in extraClientMetadata.properties) is kept
 * on the client instance under its own name: only standard metadata is
 * camelCased. It is read there directly, since client.metadata() rebuilds
 * and renames every property on each call, which showed up in every token
 * request's profile.
 */
export function extraClientProperties<Properties extends object>(client: object): Partial<Properties> {
  return client as Partial<Properties>;
}

/**
 * The engine compares a presented client secret with the stored one in a
 * single method of its Client class; replacing it swaps that one comparison
 * and leaves the rest of client authentication (methods, parsing, errors) to
 * the engine.
 */
export function replaceClientSecretComparison(
  provider: Provider,
  compare: (client: { clientId: string; clientSecret: string }, presented: string) => Promise<boolean>,
): void {
  const prototype = provider.Client.prototype as unknown as {
    compareClientSecret(this: { clientId: string; clientSecret: string }, presented: string): Promise<boolean>;
  };
  prototype.compareClientSecret = async function compareWithReplacement(presented) {
    return compare(this, presented);
  };
}

/**
 * The engine parses request bodies itself, from ctx.req. After a step has
 * read (and rewritten) the body, the engine is given a stand-in request that
 * carries `body` instead (see replayBody).
 */
export const replayRequestBody: (ctx: Context, body: Buffer, contentType: string) => void = replayBody;

/**
 * The engine makes a token's value in its model's generateTokenId (its only
 * setting for opaque values is their length, formats.bitsOfOpaqueRandomness).
 * Each named model gets its values from `make` instead; the engine's own
 * generateTokenId still runs first, for what it settles on the token besides
 * the value (an access token's format).
 */
export function replaceTokenValues(provider: Provider, makers: Partial<Record<'AccessToken' | 'RefreshToken' | 'AuthorizationCode', () => string>>): void {
  for (const [model, make] of Object.entries(makers)) {
    const prototype = (provider as unknown as Record<string, { prototype: { generateTokenId(): string } }>)[model]!.prototype;
    const engineGenerate = prototype.generateTokenId;
    prototype.generateTokenId = function generateFormattedTokenId() {
      engineGenerate.call(this);
      return make();
    };
  }
}
