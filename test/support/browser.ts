/**
 * A browser without JavaScript: fetch with a cookie jar and manual redirects,
 * enough to walk server-rendered pages and forms as a person's browser would.
 */
export class CookieBrowser {
  readonly #cookies = new Map<string, string>();
  readonly base: string;
  /** Requests sent so far. */
  requests = 0;
  /** Every cookie value the server ever set in this browser, cleared ones included. */
  readonly cookiesSeen = new Set<string>();

  constructor(base: string) {
    this.base = base;
  }

  async request(path: string, init: RequestInit = {}): Promise<Response> {
    const url = new URL(path, this.base);
    const headers = new Headers(init.headers);
    if (url.origin === new URL(this.base).origin && this.#cookies.size) headers.set('cookie', this.cookieHeader());
    this.requests += 1;
    const response = await fetch(url, { ...init, headers, redirect: 'manual' });
    for (const line of response.headers.getSetCookie()) {
      const [pair = '', ...attributes] = line.split(';');
      const index = pair.indexOf('=');
      const name = pair.slice(0, index).trim();
      const value = pair.slice(index + 1).trim();
      const expired = attributes.some((attribute) => /^\s*(max-age=0|expires=thu, 01 jan 1970)/i.test(attribute));
      if (expired || value === '') this.#cookies.delete(name);
      else {
        this.#cookies.set(name, value);
        this.cookiesSeen.add(value);
      }
    }
    return response;
  }

  get(path: string): Promise<Response> {
    return this.request(path);
  }

  /** Posts a form the way a browser does (urlencoded). */
  post(path: string, fields: Record<string, string>): Promise<Response> {
    return this.request(path, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    });
  }

  /** The Cookie header this browser sends to its own origin. */
  cookieHeader(): string {
    return [...this.#cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  cookieNames(): string[] {
    return [...this.#cookies.keys()];
  }
}

/** The value of a named form field in a page. */
export function field(page: string, name: string): string | undefined {
  const match = new RegExp(`name="${name}"[^>]*value="([^"]*)"`).exec(page);
  return match?.[1];
}

export function formAction(page: string, endsWith: string): string {
  const match = new RegExp(`action="([^"]*${endsWith})"`).exec(page);
  if (!match?.[1]) throw new Error(`no form posting to …${endsWith} in page:\n${page}`);
  return match[1];
}

/** The target of a link in a page whose address ends with `endsWith` (a confirmation page's, whose form posts to the same address). */
export function linkTo(page: string, endsWith: string): string {
  const match = new RegExp(`href="([^"]*${endsWith})"`).exec(page);
  if (!match?.[1]) throw new Error(`no link to …${endsWith} in page:\n${page}`);
  return match[1];
}

/** Decodes the few entities the views produce, for comparing visible text. */
export function text(page: string): string {
  return page
    .replace(/<[^>]*>/g, ' ')
    .replace(/&#39;/g, "'")
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ');
}
