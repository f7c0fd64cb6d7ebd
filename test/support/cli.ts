import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPostgresDatabase, testDatabaseKind } from './database.ts';

/** The repository's root, where `node bin/appgrant.js` runs from. */
export const repositoryRoot = fileURLToPath(new URL('../..', import.meta.url));
const cliPath = join(repositoryRoot, 'bin', 'appgrant.js');

/** A database the CLI opens by itself, as an operator's does: a data folder (PGlite) or, in the PostgreSQL project, a database of its own. */
export interface CliStore {
  dataDir: string;
  /** DATA_DIR, and DATABASE_URL in the PostgreSQL project. */
  env: Record<string, string>;
  cleanup(): Promise<void>;
}

/** A new, empty store for the CLI (not migrated), named after what uses it. */
export async function newCliStore(name: string): Promise<CliStore> {
  const dataDir = await mkdtemp(join(tmpdir(), `appgrant-${name}-`));
  const postgres = testDatabaseKind === 'postgres' ? await createPostgresDatabase() : undefined;
  return {
    dataDir,
    env: { DATA_DIR: dataDir, ...(postgres ? { DATABASE_URL: postgres.url } : {}) },
    cleanup: async () => {
      await postgres?.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * A clean environment for a child process: nothing of the test runner's own
 * configuration leaks in, only what the test names.
 */
export function cleanEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? tmpdir(),
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    SEED_DEMO: 'false',
    ...env,
  };
}

/** Runs `appgrant <args>` as an operator does, in its own process (killed after 60 s). */
export function runCli(args: string[], env: Record<string, string>): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath, ...args], { cwd: repositoryRoot, env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', (error) => {
      clearTimeout(killer);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr });
    });
  });
}
