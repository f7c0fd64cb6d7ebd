import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ApiProblem, invalidInput, inputIssues, issuesSentence } from '../../src/http/problems.ts';

const form = z.object({ displayName: z.string().min(1, 'must not be empty'), redirectUris: z.array(z.url('must be a URL')) });

function failure(value: unknown): z.ZodError {
  const result = form.safeParse(value);
  if (result.success) throw new Error('expected the input to be refused');
  return result.error;
}

describe('reading a validation error', () => {
  it('names each field by its path, or by its label when the form gives one, counting list items from 1', () => {
    const error = failure({ displayName: '', redirectUris: ['fine:ok', 'nope'] });
    expect(inputIssues(error)).toEqual([
      { field: 'displayName', message: 'must not be empty' },
      { field: 'redirectUris.1', message: 'must be a URL' },
    ]);
    expect(issuesSentence(error, { displayName: 'name', redirectUris: 'redirect URL' })).toBe('name: must not be empty; redirect URL line 2: must be a URL');
  });

  it('names the input as a whole only when told how', () => {
    const error = failure('not an object');
    expect(issuesSentence(error)).toMatch(/^Invalid input/);
    expect(issuesSentence(error, {}, 'input')).toMatch(/^input: Invalid input/);
  });

  it('becomes one API error per issue, the whole body called "body", and a page with the sentence', () => {
    const problem = invalidInput(failure(['an array']));
    expect(problem.status).toBe(400);
    expect(problem.api).toBeInstanceOf(ApiProblem);
    expect(problem.api.errors).toEqual([{ code: 'bad_request', title: expect.stringMatching(/^body: Invalid input/) }]);
    expect(problem.page.message).toMatch(/^Invalid input/);
  });
});
