import type { ZodError } from 'zod';

/** A single text field of a parsed form ('' when absent or repeated oddly). */
export function formText(value: unknown): string {
  return typeof value === 'string' ? value.trim() : '';
}

/** A field that may be sent several times (checkboxes). */
export function formList(value: unknown): string[] {
  if (Array.isArray(value)) return value.filter((item): item is string => typeof item === 'string');
  return typeof value === 'string' && value ? [value] : [];
}

/** Lines of a textarea, trimmed, without blanks. */
export function formLines(value: unknown): string[] {
  return formText(value).split(/\r?\n/).map((line) => line.trim()).filter(Boolean);
}

/** A validation failure as one sentence for a page. */
export function issuesText(error: ZodError): string {
  return error.issues.map((issue) => `${issue.path.length ? `${issue.path.join('.')}: ` : ''}${issue.message}`).join('; ');
}

/** A datetime-local value (no zone, the form says UTC) as an ISO instant; other text passes through to validation. */
export function utcFromDatetimeLocal(value: string): string {
  if (/^\d{4}-\d\d-\d\dT\d\d:\d\d$/.test(value)) return `${value}:00Z`;
  if (/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/.test(value)) return `${value}Z`;
  return value;
}
