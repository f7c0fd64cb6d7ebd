#!/usr/bin/env node
// The operator CLI. Its sources are TypeScript run by Node 24's type
// stripping; on an older node it re-runs itself with the Node 24 that
// scripts/node24.sh installs into .tools/.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  const tools = fileURLToPath(new URL('../.tools/', import.meta.url));
  const installed = existsSync(tools) ? readdirSync(tools).filter((name) => name.startsWith('node-24')).sort().reverse() : [];
  const node = installed.map((name) => `${tools}${name}/node_modules/node/bin/node`).find((path) => existsSync(path));
  if (!node) {
    process.stderr.write('appgrant needs Node.js 24: run `. scripts/node24.sh` first\n');
    process.exit(1);
  }
  const child = spawnSync(node, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(child.status ?? 1);
}
await import('../src/cli/main.ts');
