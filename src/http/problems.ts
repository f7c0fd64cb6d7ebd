import { STATUS_CODES } from 'node:http';
import { z, type ZodError } from 'zod';

/**
 * Refusals are thrown, never written by hand: a handler, a middleware or a
 * domain function throws one of these, and the boundary (boundary.ts) turns
 * it into the response. Each kind fixes the shape its clients parse.
 */
export abstract class Problem extends Error {
  readonly status: number;
  /** Response headers the refusal needs (WWW-Authenticate, Allow, …). */
  readonly headers: Readonly<Record<string, string>>;

  constructor(status: number, description: string, headers: Record<string, string> = {}) {
    super(description);
    this.status = status;
    this.headers = headers;
  }
}

/** The API's error list, `{"errors":[{code, title}]}`: what the boundary writes for an ApiProblem. */
export const apiErrorsSchema = z.object({
  errors: z
    .array(z.object({ code: z.string().meta({ description: 'bad_request, unauthorized, not_found, app_not_found, method_not_allowed, …' }), title: z.string() }).strict())
    .min(1),
}).strict();

/** One entry of the API's error list. */
export type ApiErrorEntry = z.output<typeof apiErrorsSchema>['errors'][number];

/** The API's one error shape for 400, 401, 404, 405 (Sunshine Conversations v2): `{"errors":[{code, title}]}`. */
export class ApiProblem extends Problem {
  readonly errors: readonly ApiErrorEntry[];

  constructor(status: number, code: string, title: string, headers: Record<string, string> = {}) {
    super(status, title, headers);
    this.errors = [{ code, title }];
  }

  /** Several problems at once, as a validation failure reports them. */
  static list(status: number, errors: readonly ApiErrorEntry[]): ApiProblem {
    const problem = new ApiProblem(status, errors[0]?.code ?? 'bad_request', errors[0]?.title ?? '');
    return Object.assign(problem, { errors });
  }
}

/**
 * The platform's 403, whatever the reason (missing level or permission,
 * expired key, caller outside the key's IP ranges): always this exact body,
 * byte for byte, which the platform's clients parse (docs/contract.md,
 * "Credentials").
 */
export const forbiddenBody = '{"requestError":{"serviceException":{"messageId":"FORBIDDEN","text":"Forbidden"}}}';

/** The 403 body as a schema: its one value, for the API's description. */
export const forbiddenSchema = z
  .object({
    requestError: z.object({ serviceException: z.object({ messageId: z.literal('FORBIDDEN'), text: z.literal('Forbidden') }).strict() }).strict(),
  })
  .strict();

/** Why valid credentials may not do what they asked: never shown, only counted (the server's metrics). */
export type ForbiddenReason = 'level' | 'permission' | 'other_app' | 'other_service_account' | 'expired' | 'ip_not_allowed';

export class ForbiddenProblem extends Problem {
  readonly reason: ForbiddenReason;

  constructor(reason: ForbiddenReason) {
    super(403, 'Forbidden');
    this.reason = reason;
  }
}

/** A way back to the partner from an error page: a form that ends the request with an OAuth error the partner receives. */
export interface PartnerReturn {
  partnerName: string;
  action: string;
  csrfToken: string;
}

/** A refusal a person reads in the browser: an error page. */
export class PageProblem extends Problem {
  readonly title: string;
  /** The OAuth error code, shown small for whoever debugs an integration. */
  readonly code: string | undefined;
  /** Where the partner is known: "Return to <partner>". */
  readonly returnTo: PartnerReturn | undefined;

  constructor(status: number, title: string, message: string, code?: string, headers: Record<string, string> = {}, returnTo?: PartnerReturn) {
    super(status, message, headers);
    this.title = title;
    this.code = code;
    this.returnTo = returnTo;
  }
}

/** The OAuth error shape of RFC 6749 §5.2: `{"error", "error_description"}`. */
export const oauthErrorSchema = z
  .object({
    error: z.string().meta({ description: 'invalid_request, invalid_client, invalid_grant, unauthorized_client, unsupported_grant_type, invalid_scope, invalid_target, invalid_dpop_proof, temporarily_unavailable, …' }),
    error_description: z.string().optional(),
  })
  .strict();

/** A refusal in the OAuth error shape. */
export class OAuthProblem extends Problem {
  readonly error: string;

  constructor(status: number, error: string, description: string, headers: Record<string, string> = {}) {
    super(status, description, headers);
    this.error = error;
  }
}

/** The RFC 6749 error code for a refusal that has no more specific one. */
function oauthErrorFor(status: number): string {
  if (status === 503) return 'temporarily_unavailable';
  return status >= 500 ? 'server_error' : 'invalid_request';
}

/**
 * A refusal that any address can meet (a NUL character, an unknown path, a
 * wrong method, a malformed body): JSON for API clients (the OAuth error
 * shape under /oauth/), a page for browsers; the boundary decides which
 * (see audience.ts).
 */
export class ApiOrPageProblem extends Problem {
  readonly api: ApiProblem;
  readonly page: PageProblem;

  constructor(api: ApiProblem, page: PageProblem) {
    super(api.status, api.message);
    this.api = api;
    this.page = page;
  }

  /** The same refusal in the OAuth error shape, for the OAuth endpoints' clients. */
  get oauth(): OAuthProblem {
    return new OAuthProblem(this.status, oauthErrorFor(this.status), this.api.message, { ...this.api.headers });
  }
}

/**
 * "Not now, try again in a moment" (503 with Retry-After): while the server
 * starts, or while its database cannot answer. Each audience gets it in its
 * own shape: the API's error list, the OAuth error of RFC 6749 section
 * 4.1.2.1 (`temporarily_unavailable`), or a page.
 */
export const unavailable = {
  description: 'The service is temporarily unavailable. Please try again shortly.',
  headers: (retryAfterSeconds: number) => ({ 'Retry-After': String(retryAfterSeconds) }),
  page(retryAfterSeconds: number, code?: string): PageProblem {
    return new PageProblem(503, 'Temporarily unavailable', unavailable.description, code, unavailable.headers(retryAfterSeconds));
  },
  apiOrPage(retryAfterSeconds: number): ApiOrPageProblem {
    const api = new ApiProblem(503, 'service_unavailable', 'Service temporarily unavailable', unavailable.headers(retryAfterSeconds));
    return new ApiOrPageProblem(api, unavailable.page(retryAfterSeconds));
  },
  oauth(retryAfterSeconds: number): OAuthProblem {
    return new OAuthProblem(503, 'temporarily_unavailable', unavailable.description, unavailable.headers(retryAfterSeconds));
  },
};

/** bad_request, not_found, method_not_allowed, …: the status's own words as an error code. */
export function codeForStatus(status: number): string {
  if (status >= 500) return 'internal_error';
  return (STATUS_CODES[status] ?? 'bad_request').toLowerCase().replace(/[^a-z]+/g, '_');
}

/** Field names as people read them, by the first segment of an issue's path. */
export type FieldLabels = Readonly<Record<string, string>>;

/** One validation issue: the field it is about (undefined for the input as a whole) and what is wrong. */
export interface InputIssue {
  field: string | undefined;
  message: string;
}

function fieldName(path: readonly PropertyKey[], labels: FieldLabels): string | undefined {
  if (!path.length) return undefined;
  const [first, ...rest] = path.map(String);
  const label = labels[first as string];
  if (label === undefined) return path.map(String).join('.');
  const positions = rest.map((segment) => (/^\d+$/.test(segment) ? `line ${Number(segment) + 1}` : segment));
  return [label, ...positions].join(' ');
}

/** The one reading of a validation error: each issue with its field's name (`labels`, else the path). */
export function inputIssues(error: ZodError, labels: FieldLabels = {}): InputIssue[] {
  return error.issues.map((issue) => ({ field: fieldName(issue.path, labels), message: issue.message }));
}

/** The issues as one sentence, for a page or the CLI; `whole` names the input when an issue is about all of it. */
export function issuesSentence(error: ZodError, labels: FieldLabels = {}, whole?: string): string {
  return inputIssues(error, labels)
    .map(({ field, message }) => {
      const name = field ?? whole;
      return name ? `${name}: ${message}` : message;
    })
    .join('; ');
}

/** Invalid input as a refusal: one API error per issue (fields by their JSON names), or a page with the sentence. */
export function invalidInput(error: ZodError): ApiOrPageProblem {
  const errors = inputIssues(error).map(({ field, message }) => ({ code: 'bad_request', title: `${field ?? 'body'}: ${message}` }));
  return new ApiOrPageProblem(ApiProblem.list(400, errors), new PageProblem(400, 'This request cannot be completed', issuesSentence(error)));
}
