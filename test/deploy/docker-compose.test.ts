import { readFileSync, globSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { loadSettings, settingNames } from '../../src/config/settings.ts';

/**
 * The compose files an operator starts from: valid against the Compose
 * specification's JSON schema, and every variable they give appgrant is a
 * setting it reads and accepts. The schema is the compose-spec project's
 * (Apache-2.0) as the dclint package ships it in schemas/compose.schema.json.
 */

const root = fileURLToPath(new URL('../../', import.meta.url));
const composeFiles = globSync(['docker-compose.yml', 'compose.yaml', 'examples/**/docker-compose.yml', 'examples/**/compose.yaml'], {
  cwd: root,
  exclude: (path) => path.includes('node_modules'),
});

const schemaPath = join(dirname(createRequire(import.meta.url).resolve('dclint/package.json')), 'schemas', 'compose.schema.json');
// The file names draft-07 by an https address Ajv does not register; draft-07 is Ajv's default dialect.
const { $schema: _draft07, ...composeSchema } = JSON.parse(readFileSync(schemaPath, 'utf8')) as Record<string, unknown>;
const validateCompose = new Ajv({ allErrors: true, strict: false, allowUnionTypes: true }).compile(composeSchema);

interface ComposeService {
  build?: string | { context?: string };
  ports?: unknown[];
  environment?: Record<string, string | number | boolean | null> | string[];
}

type ComposeFile = { services: Record<string, ComposeService> };

function schemaErrors(document: unknown): string[] {
  if (validateCompose(document)) return [];
  return (validateCompose.errors ?? []).map((error) => {
    const extra = (error.params as { additionalProperty?: string }).additionalProperty;
    return `${error.instancePath || '/'} ${error.message}${extra ? `: ${extra}` : ''}`;
  });
}

/** A service's environment as name → value, whichever of the two forms the file uses. */
function environmentOf(service: ComposeService): Record<string, string> {
  const entries = Array.isArray(service.environment)
    ? service.environment.map((line) => [line.split('=')[0]!, line.slice(line.indexOf('=') + 1)])
    : Object.entries(service.environment ?? {}).map(([name, value]) => [name, value === null ? '' : String(value)]);
  return Object.fromEntries(entries);
}

/** The services that run this repository's image (built from its Dockerfile). */
function appgrantServices(document: ComposeFile, file: string): [string, ComposeService][] {
  const repository = root.replace(/\/$/, '');
  return Object.entries(document.services).filter(([, service]) => {
    const context = typeof service.build === 'string' ? service.build : service.build?.context;
    return context !== undefined && join(root, dirname(file), context).replace(/\/$/, '') === repository;
  });
}

/** Compose's ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error} and $VAR, from the given variables. */
function interpolate(value: string, variables: Record<string, string>): string {
  return value.replace(/\$\{([A-Z0-9_]+)(?:(:?[-?])([^}]*))?\}|\$([A-Z0-9_]+)/gi, (_match, braced, operator, fallback, bare) => {
    const name = (braced ?? bare) as string;
    const present = variables[name];
    if (present !== undefined && (present !== '' || !String(operator ?? '').startsWith(':'))) return present;
    if (operator?.endsWith('-')) return fallback as string;
    throw new Error(`${name} is not set: ${fallback ?? 'no default'}`);
  });
}

const exampleEnv = Object.fromEntries(
  readFileSync(join(root, '.env.example'), 'utf8')
    .split('\n')
    .filter((line) => /^[A-Z0-9_]+=/.test(line))
    .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
);

describe('compose files', () => {
  it('the repository has its docker-compose.yml', () => {
    expect(composeFiles).toContain('docker-compose.yml');
  });

  describe.each(composeFiles)('%s', (file) => {
    const document = parse(readFileSync(join(root, file), 'utf8')) as ComposeFile;

    it('is valid against the Compose specification schema', () => {
      expect(schemaErrors(document)).toEqual([]);
    });

    it('gives appgrant only settings it knows, and values it accepts with .env.example filled in', () => {
      const services = appgrantServices(document, file);
      expect(services.length).toBeGreaterThan(0);
      for (const [name, service] of services) {
        const environment = environmentOf(service);
        expect(Object.keys(environment).filter((variable) => !settingNames.includes(variable)), name).toEqual([]);
        const filledIn = Object.fromEntries(Object.entries(environment).map(([variable, value]) => [variable, interpolate(value, exampleEnv)]));
        expect(() => loadSettings(filledIn), name).not.toThrow();
      }
    });
  });

  it.each(composeFiles)('%s: an appgrant that believes X-Forwarded-For publishes no port a client could reach it on directly', (file) => {
    const document = parse(readFileSync(join(root, file), 'utf8')) as ComposeFile;
    for (const [name, service] of appgrantServices(document, file)) {
      const trust = environmentOf(service).TRUST_PROXY;
      const trusting = trust !== undefined && loadSettings({ TRUST_PROXY: interpolate(trust, exampleEnv) }).TRUST_PROXY.kind !== 'none';
      if (trusting) expect(service.ports ?? [], `${file}: ${name}`).toEqual([]);
    }
  });

  it('the checks catch what they look for: a key the schema does not know, an unknown setting, a bad value', () => {
    expect(schemaErrors({ services: { web: { image: 'x', restart_policy: 'always' } } })).toEqual(['/services/web must NOT have additional properties: restart_policy']);
    expect(schemaErrors({ services: { web: { image: 'x', environment: { A: ['list'] } } } }).length).toBeGreaterThan(0);
    const service = { build: '.', environment: { PORT: '3000', LOG_LEVL: 'info' } };
    const [[, found]] = appgrantServices({ services: { appgrant: service, postgres: { environment: { POSTGRES_DB: 'x' } } } }, 'docker-compose.yml') as [[string, ComposeService]];
    expect(Object.keys(environmentOf(found)).filter((variable) => !settingNames.includes(variable))).toEqual(['LOG_LEVL']);
    expect(() => loadSettings({ PORT: interpolate('${PORT:-http}', {}) })).toThrow(/PORT/);
    expect(() => interpolate('${ISSUER:?set ISSUER}', {})).toThrow(/ISSUER is not set/);
  });
});
