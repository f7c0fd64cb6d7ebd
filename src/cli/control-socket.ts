import { chmodSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import type { Logger } from '../log/logger.ts';
import { runCommand, UsageError, type CommandContext } from './commands.ts';

/**
 * With the embedded database only one process may open the data folder, so
 * while a server runs, the CLI hands it its command over a Unix socket inside
 * that folder (owner-only permissions) and prints the server's answer. The
 * command runs through the same code either way.
 */
export function controlSocketPath(dataDir: string): string {
  return join(dataDir, 'control.sock');
}

export interface ControlReply {
  ok: boolean;
  result?: unknown;
  error?: string;
  usage?: boolean;
}

const maxRequestBytes = 64 * 1024;

export async function listenForCommands(path: string, context: CommandContext, logger: Logger): Promise<Server> {
  rmSync(path, { force: true });
  const server = createServer((socket) => {
    let buffered = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      if (buffered.length > maxRequestBytes) return socket.destroy();
      const end = buffered.indexOf('\n');
      if (end === -1) return;
      socket.removeAllListeners('data');
      void answer(buffered.slice(0, end)).then((reply) => socket.end(`${JSON.stringify(reply)}\n`));
    });
    socket.on('error', () => socket.destroy());
  });

  async function answer(line: string): Promise<ControlReply> {
    let argv: unknown;
    try {
      argv = (JSON.parse(line) as { argv?: unknown }).argv;
    } catch {
      return { ok: false, error: 'malformed request' };
    }
    if (!Array.isArray(argv) || !argv.every((word) => typeof word === 'string')) return { ok: false, error: 'malformed request' };
    try {
      const result = await runCommand(context, argv);
      logger.info({ command: argv.filter((word) => !word.startsWith('-')).slice(0, 2).join(' ') }, 'operator command');
      return { ok: true, result };
    } catch (error) {
      if (error instanceof UsageError) return { ok: false, error: error.message, usage: true };
      logger.error({ err: error }, 'operator command failed');
      return { ok: false, error: 'the command failed on the server; see its log' };
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  chmodSync(path, 0o600);
  return server;
}

export function sendCommand(path: string, argv: string[]): Promise<ControlReply> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    let response = '';
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(`${JSON.stringify({ argv })}\n`));
    socket.on('data', (chunk: string) => {
      response += chunk;
    });
    socket.on('end', () => {
      try {
        resolve(JSON.parse(response) as ControlReply);
      } catch {
        reject(new Error('the server closed the control connection without an answer'));
      }
    });
    socket.on('error', reject);
  });
}
