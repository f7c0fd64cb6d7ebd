import type { Context } from 'koa';
import type { Knex } from 'knex';
import { newId } from '../db/ids.ts';
import type { SecretBox } from '../keys/secret-box.ts';
import { seeOther } from '../http/see-other.ts';
import { ownerSessionOf } from './owner-sessions.ts';

/** What a page shows once: a sentence naming what was done, and any secret that exists only now. */
export interface Flash {
  notice: string;
  /** Labelled values to copy (a key id and its secret, a client secret), shown this once. */
  secrets?: { label: string; value: string }[];
}

/** How long a flash waits to be shown: the redirect follows at once, so minutes are plenty. */
const flashSeconds = 300;

/**
 * Post/Redirect/Get for the dashboard and the portal: a form that changed
 * something keeps what to say in a flash for the owner's session and the
 * page it redirects to; that page takes it, which deletes it. A reload, a
 * second tab or the back button finds nothing, so nothing is created twice
 * and a secret is never shown twice; the secret is never in a URL, and rests
 * sealed by the key box for the moments between.
 */
export class PageFlashes {
  readonly #db: Knex;
  readonly #box: SecretBox;

  constructor(db: Knex, box: SecretBox) {
    this.#db = db;
    this.#box = box;
  }

  /** Keeps the flash for `page` and redirects the browser there (303). */
  async redirect(ctx: Context, page: string, flash: Flash): Promise<void> {
    const id = newId('fl_');
    await this.#db('page_flashes').insert({
      id,
      session_id: ownerSessionOf(ctx),
      page,
      sealed: this.#box.seal(JSON.stringify(flash), id),
      expires_at: new Date(Date.now() + flashSeconds * 1000),
    });
    seeOther(ctx, page);
  }

  /** The flashes waiting for this page in this session, oldest first, deleted as they are read. */
  async take(ctx: Context, page: string): Promise<Flash[]> {
    const rows: { id: string; sealed: string; expires_at: Date }[] = await this.#db('page_flashes')
      .where({ session_id: ownerSessionOf(ctx), page })
      .delete()
      .returning(['id', 'sealed', 'expires_at']);
    return rows
      .filter((row) => new Date(row.expires_at).getTime() > Date.now())
      .sort((a, b) => new Date(a.expires_at).getTime() - new Date(b.expires_at).getTime())
      .map((row) => this.#box.open(row.sealed, row.id))
      .filter((opened) => opened !== undefined)
      .map((opened) => JSON.parse(opened) as Flash);
  }
}
