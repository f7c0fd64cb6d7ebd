import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.ts';

/**
 * The README's "Five minutes with curl" walk, run as a reader runs it: the
 * shell block pasted into bash against a server seeded with the demo data.
 * A page or answer that changes shape under the walk fails here, not in a
 * newcomer's terminal.
 */
const readme = fileURLToPath(new URL('../../README.md', import.meta.url));
const run = promisify(execFile);

async function curlWalk(): Promise<string> {
  const text = await readFile(readme, 'utf8');
  const section = text.slice(text.indexOf('## Five minutes with curl'));
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1];
  if (!block?.includes('BASE=http://localhost:3000')) throw new Error('the README walk no longer starts with BASE=http://localhost:3000');
  return block;
}

let server: TestServer;
let folder: string;

beforeAll(async () => {
  server = await startTestServer({ SEED_DEMO: 'true' });
  folder = await mkdtemp(join(tmpdir(), 'appgrant-readme-'));
});

afterAll(async () => {
  await server?.close();
  if (folder) await rm(folder, { recursive: true, force: true });
});

describe('the README walk with curl', () => {
  it('gets a code, a token for the chosen app, the app, an active introspection, a 204 removal and then an inactive token', async () => {
    const script = (await curlWalk()).replace('BASE=http://localhost:3000', `BASE=${server.url}`);
    const { stdout } = await run('bash', ['-c', script], { cwd: folder, timeout: 60_000 });
    const lines = stdout.trim().split('\n');
    const app = /^app: ([0-9a-f]+)$/m.exec(stdout)?.[1];
    expect(app, stdout).toBeTruthy();
    expect(stdout).toMatch(/^http:\/\/localhost:8080\/callback\?code=agac_[^&]+&state=xyz&iss=/m);
    const token = JSON.parse(lines.find((line) => line.startsWith('{"access_token"'))!) as Record<string, unknown>;
    expect(token).toMatchObject({ token_type: 'Bearer', app_id: app, scope: 'app:read message:send inbound-message:read' });
    expect(JSON.parse(lines.find((line) => line.startsWith('{"app"'))!)).toMatchObject({ app: { id: app } });
    expect(JSON.parse(lines.find((line) => line.startsWith('{"active":true'))!)).toMatchObject({ active: true, app_id: app, client_id: 'ptn_demo' });
    expect(lines.slice(-2)).toEqual(['204', '{"active":false}']);
  });
});
