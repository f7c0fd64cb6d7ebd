import type { Context } from 'koa';

/** 303 See Other: after a form post (or to a page elsewhere), the browser GETs `location`. */
export function seeOther(ctx: Context, location: string): void {
  ctx.status = 303;
  ctx.redirect(location);
}
