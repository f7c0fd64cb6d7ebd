import { ZodError } from 'zod';
import { issuesSentence, type FieldLabels } from './problems.ts';

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

/**
 * Runs what a form asks for; when its input is invalid, shows the form again
 * through `showAgain` with one sentence naming each problem by the form's
 * own field labels. Any other failure goes on to the boundary.
 */
export async function submitForm(
  labels: FieldLabels,
  action: () => Promise<void> | void,
  showAgain: (problems: string) => Promise<void> | void,
): Promise<void> {
  try {
    await action();
  } catch (error) {
    if (!(error instanceof ZodError)) throw error;
    await showAgain(issuesSentence(error, labels));
  }
}

/** A datetime-local value (no zone, the form says UTC) as an ISO instant; other text passes through to validation. */
export function utcFromDatetimeLocal(value: string): string {
  if (/^\d{4}-\d\d-\d\dT\d\d:\d\d$/.test(value)) return `${value}:00Z`;
  if (/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/.test(value)) return `${value}Z`;
  return value;
}
