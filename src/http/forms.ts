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
 * What is wrong with a form's input: one sentence naming each problem by the
 * form's own field labels, and the same problems by field (the key the
 * domain validated, which the page maps to its input), in plain words with
 * line numbers from 1 for a field of several lines.
 */
export interface FormProblems {
  sentence: string;
  fields: Record<string, string>;
  general: string[];
}

export function formProblems(error: ZodError, labels: FieldLabels): FormProblems {
  const fields: Record<string, string> = {};
  const general: string[] = [];
  for (const issue of error.issues) {
    const [key, position] = issue.path;
    const message = typeof position === 'number' ? `line ${position + 1}: ${issue.message}` : issue.message;
    if (key === undefined) general.push(message);
    else fields[String(key)] = fields[String(key)] ? `${fields[String(key)]}; ${message}` : message;
  }
  return { sentence: issuesSentence(error, labels), fields, general };
}

/**
 * Runs what a form asks for; when its input is invalid, shows the form again
 * through `showAgain` with its problems. Any other failure goes on to the
 * boundary.
 */
export async function submitForm(
  labels: FieldLabels,
  action: () => Promise<void> | void,
  showAgain: (problems: FormProblems) => Promise<void> | void,
): Promise<void> {
  try {
    await action();
  } catch (error) {
    if (!(error instanceof ZodError)) throw error;
    await showAgain(formProblems(error, labels));
  }
}

/** A datetime-local value (no zone, the form says UTC) as an ISO instant; other text passes through to validation. */
export function utcFromDatetimeLocal(value: string): string {
  if (/^\d{4}-\d\d-\d\dT\d\d:\d\d$/.test(value)) return `${value}:00Z`;
  if (/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/.test(value)) return `${value}Z`;
  return value;
}
