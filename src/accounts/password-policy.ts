import { z } from 'zod';

/** The shortest password an account may be given. */
export const minimumPasswordLength = 12;

type Estimate = (password: string) => { score: number; feedback: { warning: string | null } };

/** zxcvbn's warnings for a password matched in its list of common and breached ones. */
const commonPasswordWarnings = new Set(['topTen', 'topHundred', 'common', 'similarToCommon']);

let estimator: Promise<Estimate> | undefined;

/**
 * zxcvbn-ts with its common-language dictionaries: about 49,000 of the
 * passwords seen most often in breaches, plus the patterns people build
 * from them (keyboard walks, sequences, dates, l33t spellings, repeats). It
 * runs offline, and is loaded the first time a password is set, not at
 * start-up.
 */
function estimate(): Promise<Estimate> {
  estimator ??= Promise.all([import('@zxcvbn-ts/core'), import('@zxcvbn-ts/language-common')]).then(([core, common]) => {
    const factory = new core.ZxcvbnFactory({ dictionary: { ...common.dictionary }, graphs: common.adjacencyGraphs });
    return (password: string) => factory.check(password);
  });
  return estimator;
}

/**
 * Why a password may not be set, or undefined when it may: it is on the
 * list of common and breached passwords, or so close to one (or so simple a
 * pattern) that guessing it takes too few tries. A score of 3 is zxcvbn's
 * "safely unguessable: moderate protection from offline slow-hash attacks".
 */
export async function passwordWeakness(password: string): Promise<string | undefined> {
  const { score, feedback } = (await estimate())(password);
  if (score >= 3) return undefined;
  return feedback.warning !== null && commonPasswordWarnings.has(feedback.warning)
    ? 'is a common password, or close to one, found in lists of breached passwords'
    : 'is too easy to guess: use a longer passphrase of unrelated words';
}

/** A password being set: long enough, and neither common nor breached. Parse with parseAsync. */
export const newPassword = z
  .string()
  .min(minimumPasswordLength, `must be at least ${minimumPasswordLength} characters`)
  .max(1024)
  .superRefine(async (password, ctx) => {
    const weakness = await passwordWeakness(password);
    if (weakness) ctx.addIssue({ code: 'custom', message: weakness });
  });
