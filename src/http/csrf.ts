import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context, Next } from 'koa';
import { PageProblem } from './problems.ts';

const cookieName = 'appgrant.csrf';

/**
 * Signed double-submit tokens: the browser holds a random HttpOnly cookie and
 * every form carries an HMAC of it under a server key. A page on another
 * site can neither read the cookie nor compute the HMAC, so it cannot forge a
 * form post; a token copied from one browser is useless in another.
 */
export class CsrfGuard {
  readonly #key: Buffer;

  constructor(secret: string) {
    this.#key = createHmac('sha256', secret).update('appgrant csrf').digest();
  }

  #sign(value: string): string {
    return createHmac('sha256', this.#key).update(value).digest('base64url');
  }

  /** The token for this browser's forms, setting the cookie on first use. */
  tokenFor(ctx: Context): string {
    let value = ctx.cookies.get(cookieName);
    if (!value || !/^[A-Za-z0-9_-]{43}$/.test(value)) {
      value = randomBytes(32).toString('base64url');
      ctx.cookies.set(cookieName, value, { httpOnly: true, sameSite: 'lax', secure: ctx.secure, path: '/', overwrite: true });
    }
    return this.#sign(value);
  }

  /** Whether a submitted form carries a token minted for this browser. */
  isValid(ctx: Context, submitted: unknown): boolean {
    const value = ctx.cookies.get(cookieName);
    if (!value || typeof submitted !== 'string') return false;
    const expected = Buffer.from(this.#sign(value));
    const actual = Buffer.from(submitted);
    return expected.length === actual.length && timingSafeEqual(expected, actual);
  }

  /** Form handlers start with this: a post without this browser's token gets 403 and changes nothing. */
  requireToken() {
    return async (ctx: Context, next: Next): Promise<void> => {
      if (!this.isValid(ctx, (ctx.request.body as Record<string, unknown> | undefined)?._csrf)) {
        throw new PageProblem(
          403,
          'This form has expired',
          'The page was open too long or came from another site. Go back, reload the page and try again.',
        );
      }
      return next();
    };
  }
}
