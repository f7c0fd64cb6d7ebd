import Router from '@koa/router';
import { z } from 'zod';
import { appChanges, appFields, appSettings } from '../apps/apps.ts';
import { appKeyInputFromCredential } from '../credentials/api-keys.ts';
import { eventSchema } from '../events/events.ts';
import { noticeSchema } from '../notices/outbox.ts';
import { apiErrorsSchema, forbiddenBody, forbiddenSchema, oauthErrorSchema } from '../http/problems.ts';
import { oauthRoutes } from '../oauth/provider.ts';
import {
  authorizationRequestSchema,
  introspectionAnswerSchema,
  jwksSchema,
  pushedAuthorizationAnswerSchema,
  tokenAnswerSchema, tokenOperationRequestSchema, tokenRequestSchema } from '../oauth/wire.ts';
import { permissionCatalog, type Level } from '../permissions/catalog.ts';
import { accountLevel, appOrAccount } from './access.ts';
import { currentCredentialQuery } from './credentials.ts';
import { exportQuery } from './event-export.ts';
import { eventListQuery } from './events.ts';
import { appListQuery, installationListQuery } from './pagination.ts';
import {
  apiAppSchema,
  apiCredentialSchema,
  apiKeySchema,
  appAnswer,
  appListAnswer,
  credentialAnswer,
  emptyAnswer,
  eventListAnswer,
  installationListAnswer,
  installationSchema,
  keyAnswer,
  keyListAnswer,
  newApiKeySchema,
  newKeyAnswer,
} from './presenters.ts';
import { revokeAuthorizationQuery } from './revoke-authorization.ts';

/**
 * The OpenAPI 3.1 description of what partners and operators call: the v2
 * API, DELETE /oauth/authorization, the OAuth endpoints where appgrant adds
 * to the RFCs, and the audit trail's export. Every schema in it is generated
 * from the zod schemas the server parses requests with and types its
 * answers by, so it cannot describe something else than what runs. It is
 * served at GET /openapi.json and kept in docs/openapi.json (`npm run
 * openapi` writes it; a test fails when it is stale).
 */

type JsonObject = Record<string, unknown>;

/** Named schemas: requests as they are accepted (zod input), answers as they are produced (zod output). */
const requestSchemas = z.registry<{ id: string }>();
const answerSchemas = z.registry<{ id: string }>();

requestSchemas.add(appFields, { id: 'AppCreate' });
requestSchemas.add(appChanges, { id: 'AppUpdate' });
requestSchemas.add(appSettings, { id: 'AppSettingsChanges' });
requestSchemas.add(appKeyInputFromCredential, { id: 'KeyCreate' });
requestSchemas.add(tokenRequestSchema, { id: 'TokenRequest' });
requestSchemas.add(authorizationRequestSchema, { id: 'AuthorizationRequest' });
requestSchemas.add(tokenOperationRequestSchema, { id: 'TokenOperationRequest' });

answerSchemas.add(apiAppSchema, { id: 'App' });
answerSchemas.add(apiKeySchema, { id: 'Key' });
answerSchemas.add(newApiKeySchema, { id: 'NewKey' });
answerSchemas.add(apiCredentialSchema, { id: 'Credential' });
answerSchemas.add(eventSchema, { id: 'Event' });
answerSchemas.add(appAnswer, { id: 'AppAnswer' });
answerSchemas.add(appListAnswer, { id: 'AppList' });
answerSchemas.add(keyAnswer, { id: 'KeyAnswer' });
answerSchemas.add(newKeyAnswer, { id: 'NewKeyAnswer' });
answerSchemas.add(keyListAnswer, { id: 'KeyList' });
answerSchemas.add(credentialAnswer, { id: 'CredentialAnswer' });
answerSchemas.add(eventListAnswer, { id: 'EventList' });
answerSchemas.add(emptyAnswer, { id: 'Empty' });
answerSchemas.add(installationSchema, { id: 'Installation' });
answerSchemas.add(installationListAnswer, { id: 'InstallationList' });
answerSchemas.add(apiErrorsSchema, { id: 'Errors' });
answerSchemas.add(forbiddenSchema, { id: 'Forbidden' });
answerSchemas.add(oauthErrorSchema, { id: 'OAuthError' });
answerSchemas.add(tokenAnswerSchema, { id: 'TokenAnswer' });
answerSchemas.add(introspectionAnswerSchema, { id: 'IntrospectionAnswer' });
answerSchemas.add(jwksSchema, { id: 'JsonWebKeySet' });
answerSchemas.add(noticeSchema, { id: 'Notice' });
answerSchemas.add(pushedAuthorizationAnswerSchema, { id: 'PushedAuthorizationAnswer' });

const schemaRef = (id: string) => ({ $ref: `#/components/schemas/${id}` });

/** The registry's schemas as OpenAPI components: references between them by component name. */
function componentSchemas(registry: typeof requestSchemas, io: 'input' | 'output'): Record<string, JsonObject> {
  const { schemas } = z.toJSONSchema(registry, { io, uri: (id) => `#/components/schemas/${id}` });
  return Object.fromEntries(
    Object.entries(schemas).map(([id, schema]) => {
      const { $schema: _dialect, $id: _id, ...rest } = schema as JsonObject;
      return [id, rest];
    }),
  );
}

/** A zod object of query parameters as OpenAPI parameters. */
function queryParameters(query: z.ZodType): JsonObject[] {
  const schema = z.toJSONSchema(query, { io: 'input' }) as { properties?: Record<string, JsonObject>; required?: string[] };
  return Object.entries(schema.properties ?? {}).map(([name, property]) => {
    const { description, ...rest } = property;
    return { name, in: 'query', required: schema.required?.includes(name) ?? false, ...(description ? { description } : {}), schema: rest };
  });
}

const json = (id: string) => ({ 'application/json': { schema: schemaRef(id) } });
const answer = (description: string, id: string) => ({ description, content: json(id) });
const shared = (name: string) => ({ $ref: `#/components/responses/${name}` });

const retryAfter = { 'Retry-After': { description: 'Seconds to wait before trying again', required: true, schema: { type: 'integer' } } };

/** The answers every operation of the v2 API may give besides its own. */
const responses = {
  BadRequest: {
    description: 'Invalid input: one error per problem, naming the field; or a URL that cannot be read (bad percent-encoding, a NUL character)',
    content: json('Errors'),
  },
  Unauthorized: {
    description: 'No credentials, or credentials that prove nothing',
    headers: { 'WWW-Authenticate': { description: 'Basic, Bearer or DPoP challenge (RFC 6750 §3, RFC 9449 §7.1)', required: true, schema: { type: 'string' } } },
    content: json('Errors'),
  },
  Forbidden: {
    description:
      'Valid credentials without the level or a permission the operation needs, an expired key, a caller outside the key\'s allowed IP ranges, or another app: always exactly this body, byte for byte',
    content: { 'application/json': { schema: schemaRef('Forbidden'), example: JSON.parse(forbiddenBody) as unknown } },
  },
  NotFound: { description: 'No such app or key (an app of another account included)', content: json('Errors') },
  TooLarge: { description: 'The body is over the size limit', content: json('Errors') },
  Unavailable: { description: 'The service is starting or its database cannot answer', headers: retryAfter, content: json('Errors') },
  OAuthBadRequest: { description: 'The request is not valid (RFC 6749 §5.2)', content: json('OAuthError') },
  OAuthTooLarge: { description: 'The body is over the size limit: invalid_request', content: json('OAuthError') },
  OAuthUnauthorized: { description: 'Client authentication failed', content: json('OAuthError') },
  OAuthThrottled: { description: 'Too many failed client authentications: temporarily_unavailable', headers: retryAfter, content: json('OAuthError') },
  OAuthUnavailable: { description: 'The service is starting or its database cannot answer: temporarily_unavailable', headers: retryAfter, content: json('OAuthError') },
};

/** The permissions a partner may be granted: the scopes of the OAuth flow. */
const partnerScopes = Object.fromEntries(permissionCatalog.filter((permission) => permission.levels.includes('app')).map((permission) => [permission.name, permission.description]));

/** How partners get a token: the code flow (PKCE S256, `state`), at this server's endpoints. */
const oauth2 = (serverUrl: string) => ({
  type: 'oauth2',
  description:
    'An access token from the OAuth flow, as `Authorization: Bearer <token>`: app level, for the one app the owner chose (`app_id` in the token response), with the approved permissions. PKCE (S256) and `state` are supported and recommended; `DELETE /oauth/authorization` gives the access up.',
  flows: {
    authorizationCode: {
      authorizationUrl: `${serverUrl}${oauthRoutes.authorization}`,
      tokenUrl: `${serverUrl}${oauthRoutes.token}`,
      refreshUrl: `${serverUrl}${oauthRoutes.token}`,
      scopes: partnerScopes,
    },
  },
});

const securitySchemes = {
  basic: { type: 'http', scheme: 'basic', description: 'An API key: `keyId:secret`. An app key acts at app level; an account or service-account key at account level.' },
  jwt: {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description:
      'An HS256 JWT signed with an API key\'s secret: header `kid` the key id, claim `scope` `app` or `appUser` (app keys) or `account` (account keys); `appUser` needs `userId` or `externalId`. `exp` is honoured, a future `iat` refused.',
  },
  dpop: {
    type: 'http',
    scheme: 'DPoP',
    description: 'A DPoP-bound access token (RFC 9449) as `Authorization: DPoP <token>`, with a `DPoP` proof header signed by its key (ES256, Ed25519 or EdDSA).',
  },
  partnerClient: { type: 'http', scheme: 'basic', description: "A partner's client_id and client_secret (client_secret_basic); or send them in the body (client_secret_post)." },
  eventsExport: { type: 'http', scheme: 'bearer', description: 'The operator\'s EVENTS_EXPORT_TOKEN.' },
};

/**
 * Who may call an operation, as OpenAPI security requirements: API keys
 * (Basic or JWT) always, their level decides; an OAuth token (Bearer or
 * DPoP) only where app level may call, and as alternatives, one per
 * permission that allows the operation (any one does).
 */
function securityFor({ levels, permissions }: Access): JsonObject[] {
  if (!levels.includes('app')) return [{ basic: [] }, { jwt: [] }];
  const oauth = permissions.length ? permissions.map((permission) => ({ oauth2: [permission] })) : [{ oauth2: [] }];
  return [{ basic: [] }, { jwt: [] }, ...oauth, { dpop: [] }];
}
const partnerClient = [{ partnerClient: [] }, {}];

const dpopHeader = {
  name: 'DPoP',
  in: 'header',
  required: false,
  description: 'The DPoP proof (RFC 9449), with a DPoP-bound token only',
  schema: { type: 'string' },
};
const pathId = (name: string, description: string) => ({ name, in: 'path', required: true, description, schema: { type: 'string' } });
const pathIds: Record<string, JsonObject> = { appId: pathId('appId', 'The app'), keyId: pathId('keyId', 'The key') };

interface Access {
  levels: readonly Level[];
  permissions: readonly string[];
}

interface Operation {
  summary: string;
  description?: string;
  tags: string[];
  /** Who may call it (x-levels) and the permissions that allow it, any one (x-permissions); its security follows. */
  access?: Access;
  /** Without access: who may call it. */
  security?: readonly JsonObject[];
  parameters?: readonly JsonObject[];
  query?: z.ZodType;
  body?: { id: string; types: readonly string[] };
  answers: Record<string, JsonObject>;
}

/** The failures every v2 operation may answer with: 400 too, as any URL can be malformed. */
function apiFailures({ app = false, body = false } = {}): Record<string, JsonObject> {
  return {
    400: shared('BadRequest'),
    401: shared('Unauthorized'),
    403: shared('Forbidden'),
    ...(app ? { 404: shared('NotFound') } : {}),
    ...(body ? { 413: shared('TooLarge') } : {}),
    503: shared('Unavailable'),
  };
}

const jsonBody = (id: string) => ({ id, types: ['application/json'] });
const oauthBody = (id: string) => ({ id, types: ['application/x-www-form-urlencoded', 'application/json'] });
const appManage = ['app:manage'];
const keysManage = ['keys:manage'];

const v2Operations: Record<string, Record<string, Operation>> = {
  '/v2/apps': {
    get: {
      summary: "List the account's apps",
      description: 'Cursor paging: `page[after]` or `page[before]` (an app id), `page[size]`; `links.next` and `links.prev` repeat the size.',
      tags: ['Apps'],
      access: { levels: accountLevel, permissions: ['app:read', 'app:manage'] },
      query: appListQuery,
      answers: { 200: answer('A page of apps', 'AppList'), ...apiFailures() },
    },
    post: {
      summary: 'Create an app',
      tags: ['Apps'],
      access: { levels: accountLevel, permissions: appManage },
      body: jsonBody('AppCreate'),
      answers: { 201: answer('The app created', 'AppAnswer'), ...apiFailures({ body: true }) },
    },
  },
  '/v2/apps/{appId}': {
    get: {
      summary: 'Read an app',
      tags: ['Apps'],
      access: { levels: appOrAccount, permissions: ['app:read', 'app:manage'] },
      answers: { 200: answer('The app', 'AppAnswer'), ...apiFailures({ app: true }) },
    },
    patch: {
      summary: 'Change an app',
      description: 'Settings merge into the app\'s; `metadata: null` clears it.',
      tags: ['Apps'],
      access: { levels: appOrAccount, permissions: appManage },
      body: jsonBody('AppUpdate'),
      answers: { 200: answer('The app changed', 'AppAnswer'), ...apiFailures({ app: true, body: true }) },
    },
    delete: {
      summary: 'Delete an app',
      description: 'Its keys, authorizations and every token issued for it go with it.',
      tags: ['Apps'],
      access: { levels: appOrAccount, permissions: appManage },
      answers: { 200: answer('Deleted', 'Empty'), ...apiFailures({ app: true }) },
    },
  },
  '/v2/apps/{appId}/keys': {
    get: {
      summary: "List the app's keys",
      tags: ['Keys'],
      access: { levels: appOrAccount, permissions: keysManage },
      answers: { 200: answer('The keys, without secrets', 'KeyList'), ...apiFailures({ app: true }) },
    },
    post: {
      summary: 'Create an app key',
      description:
        'The key is never broader than the credential creating it: permissions a subset of its own (none named: its own), expiring no later, confined to ranges inside its own; asking for more is refused with the 403. A partner\'s token creates keys bound to its authorization.',
      tags: ['Keys'],
      access: { levels: appOrAccount, permissions: keysManage },
      body: jsonBody('KeyCreate'),
      answers: { 201: answer('The key, with its secret (shown this once)', 'NewKeyAnswer'), ...apiFailures({ app: true, body: true }) },
    },
  },
  '/v2/apps/{appId}/keys/{keyId}': {
    get: {
      summary: 'Read an app key',
      tags: ['Keys'],
      access: { levels: appOrAccount, permissions: keysManage },
      answers: { 200: answer('The key, without its secret', 'KeyAnswer'), ...apiFailures({ app: true }) },
    },
    delete: {
      summary: 'Revoke an app key',
      tags: ['Keys'],
      access: { levels: appOrAccount, permissions: keysManage },
      answers: { 200: answer('Revoked', 'Empty'), ...apiFailures({ app: true }) },
    },
  },
  '/v2/apps/{appId}/events': {
    get: {
      summary: "The app's audit trail, newest first",
      description: '`meta.beforeCursor` and `links.next` page back in time.',
      tags: ['Events'],
      access: { levels: appOrAccount, permissions: ['events:read'] },
      query: eventListQuery,
      answers: { 200: answer('A page of events', 'EventList'), ...apiFailures({ app: true }) },
    },
  },
  '/v2/credentials/current': {
    get: {
      summary: 'Who the credentials are',
      description: 'With `appId` and/or `permission`: 403 unless the credentials may use that permission on that app.',
      tags: ['Credentials'],
      access: { levels: ['app', 'account', 'appUser'], permissions: [] },
      query: currentCredentialQuery,
      answers: { 200: answer('The credentials', 'CredentialAnswer'), ...apiFailures() },
    },
  },
};

const partnerOperations: Record<string, Record<string, Operation>> = {
  '/v2/partner/installations': {
    get: {
      summary: "The integration's installations",
      description:
        "Called by a partner with its own `client_id` and `client_secret` (client_secret_basic): every app its integration is installed on, and nothing of any other partner. Cursor paging like every /v2 list: `page[after]` or `page[before]` (an installation id), `page[size]`.",
      tags: ['Partners'],
      security: [{ partnerClient: [] }],
      query: installationListQuery,
      answers: {
        200: answer('A page of installations', 'InstallationList'),
        400: shared('BadRequest'),
        401: shared('Unauthorized'),
        429: { description: 'Too many failed client authentications', headers: retryAfter, content: json('Errors') },
        503: shared('Unavailable'),
      },
    },
  },
};

const oauthOperations: Record<string, Record<string, Operation>> = {
  [oauthRoutes.authorization]: {
    get: {
      summary: 'Start the flow: the app owner logs in, picks an app and consents',
      description:
        "The partner's \"Add to app\" link, opened in the owner's browser. The owner is sent to the login page, the app picker and the consent page, then back to `redirect_uri` with `code`, `state` and `iss` (or `error`, `state` and `iss`). An unknown client or an unregistered `redirect_uri` gets an error page, never a redirect.",
      tags: ['OAuth'],
      security: [{}],
      query: authorizationRequestSchema,
      answers: {
        303: {
          description: 'On to the login page, or back to the partner with the code or an error',
          headers: { Location: { required: true, schema: { type: 'string' } } },
          content: { 'text/html': { schema: { type: 'string' } }, 'text/plain': { schema: { type: 'string' } } },
        },
        400: { description: 'An unknown client or redirect URL: an error page for the owner', content: { 'text/html': { schema: { type: 'string' } } } },
      },
    },
  },
  [oauthRoutes.pushed_authorization_request]: {
    post: {
      summary: 'Push the authorization request (RFC 9126)',
      description: 'The browser then opens `/oauth/authorize?client_id=…&request_uri=…` and carries nothing else.',
      tags: ['OAuth'],
      security: [{ partnerClient: [] }],
      body: { id: 'AuthorizationRequest', types: ['application/x-www-form-urlencoded'] },
      answers: {
        201: answer('Where the browser goes next', 'PushedAuthorizationAnswer'),
        400: shared('OAuthBadRequest'),
        401: shared('OAuthUnauthorized'),
        429: shared('OAuthThrottled'),
        503: shared('OAuthUnavailable'),
      },
    },
  },
  [oauthRoutes.token]: {
    post: {
      summary: 'Exchange a code or a refresh token',
      description:
        'RFC 6749 `authorization_code` (with PKCE, RFC 7636) and `refresh_token` grants, as a form or a JSON object of strings. With a `DPoP` proof header the token is bound to the proof\'s key (RFC 9449). The answer names the app the token acts on (`app_id`).',
      tags: ['OAuth'],
      security: partnerClient,
      parameters: [dpopHeader],
      body: oauthBody('TokenRequest'),
      answers: {
        200: answer('The tokens', 'TokenAnswer'),
        400: shared('OAuthBadRequest'),
        401: shared('OAuthUnauthorized'),
        413: shared('OAuthTooLarge'),
        429: shared('OAuthThrottled'),
        503: shared('OAuthUnavailable'),
      },
    },
  },
  [oauthRoutes.introspection]: {
    post: {
      summary: 'Introspect a token (RFC 7662)',
      description: 'A partner introspects its own tokens; the platform API\'s resource-server client, any. Adds `app_id` and `account_id`, and `cnf.jkt` for a DPoP-bound token.',
      tags: ['OAuth'],
      security: partnerClient,
      body: oauthBody('TokenOperationRequest'),
      answers: {
        200: answer('What the token is, or `active: false`', 'IntrospectionAnswer'),
        400: shared('OAuthBadRequest'),
        401: shared('OAuthUnauthorized'),
        429: shared('OAuthThrottled'),
        503: shared('OAuthUnavailable'),
      },
    },
  },
  [oauthRoutes.revocation]: {
    post: {
      summary: 'Revoke a token (RFC 7009)',
      description: 'Revoking any token of an authorization removes the authorization: its tokens and the keys created with them stop working.',
      tags: ['OAuth'],
      security: partnerClient,
      body: oauthBody('TokenOperationRequest'),
      answers: {
        200: { description: 'Revoked, or nothing to revoke' },
        400: shared('OAuthBadRequest'),
        401: shared('OAuthUnauthorized'),
        429: shared('OAuthThrottled'),
        503: shared('OAuthUnavailable'),
      },
    },
  },
  [oauthRoutes.jwks]: {
    get: {
      summary: 'The signing keys (JWKS)',
      description:
        'The public half of every published ES256 signing key. Removal and other notices carry `appgrant-signature: t=<unix time>,kid=<kid>,es256=<base64url signature of "<t>.<body>">`: verify it with the key of that `kid` and refuse a stale `t`. A key is published here before it signs.',
      tags: ['OAuth'],
      security: [{}],
      answers: { 200: { description: 'The key set', content: { 'application/jwk-set+json': { schema: schemaRef('JsonWebKeySet') } } } },
    },
  },
  '/oauth/authorization': {
    delete: {
      summary: "Remove a partner's access to an app",
      description:
        "With the partner's own token (Bearer or DPoP): it gives up its access, no permission needed. With the app's own credentials holding `integrations:manage` and `?client_id=`: the app removes that partner. The authorization, every token issued under it and every key created with them stop working at once.",
      tags: ['OAuth'],
      access: { levels: ['app'], permissions: [] },
      query: revokeAuthorizationQuery,
      answers: {
        204: { description: 'Removed' },
        400: shared('BadRequest'),
        401: shared('Unauthorized'),
        403: shared('Forbidden'),
        404: { description: 'No authorization of this partner on this app', content: json('Errors') },
        503: shared('Unavailable'),
      },
    },
  },
};

const operatorOperations: Record<string, Record<string, Operation>> = {
  '/ops/events': {
    get: {
      summary: 'The whole audit trail for a SIEM, oldest first',
      description:
        'NDJSON, one Event per line (`x-item-schema`). A collector polls with `?after=` the last id it stored. Exists only when EVENTS_EXPORT_TOKEN is set.',
      tags: ['Operations'],
      security: [{ eventsExport: [] }],
      query: exportQuery,
      answers: {
        200: {
          description: 'Events, one JSON object per line',
          content: { 'application/x-ndjson': { schema: { type: 'string' }, 'x-item-schema': schemaRef('Event') } },
        },
        400: shared('BadRequest'),
        401: shared('Unauthorized'),
        503: shared('Unavailable'),
      },
    },
  },
  '/openapi.json': {
    get: {
      summary: 'This document',
      tags: ['Operations'],
      security: [{}],
      answers: { 200: { description: 'The OpenAPI document, naming this server', content: { 'application/json': { schema: { type: 'object' } } } } },
    },
  },
};

function pathParameters(path: string): JsonObject[] {
  return [...path.matchAll(/\{(\w+)\}/g)].map(([, name]) => pathIds[name as string] as JsonObject);
}

function operationObject(path: string, method: string, operation: Operation): JsonObject {
  const parameters = [
    ...pathParameters(path),
    ...(operation.parameters ?? []),
    ...(operation.query ? queryParameters(operation.query) : []),
    ...(operation.access?.levels.includes('app') ? [dpopHeader] : []),
  ];
  return {
    operationId: `${method}${path.replace(/\{(\w+)\}/g, 'By/$1').replace(/[^A-Za-z0-9]+(.)?/g, (_, next: string | undefined) => (next ?? '').toUpperCase())}`,
    summary: operation.summary,
    ...(operation.description ? { description: operation.description } : {}),
    tags: operation.tags,
    ...(operation.access ? { 'x-levels': operation.access.levels, 'x-permissions': operation.access.permissions } : {}),
    security: operation.access ? securityFor(operation.access) : operation.security,
    ...(parameters.length ? { parameters } : {}),
    ...(operation.body
      ? { requestBody: { required: true, content: Object.fromEntries(operation.body.types.map((type) => [type, { schema: schemaRef(operation.body!.id) }])) } }
      : {}),
    responses: operation.answers,
  };
}

function pathItems(operations: Record<string, Record<string, Operation>>): Record<string, JsonObject> {
  return Object.fromEntries(
    Object.entries(operations).map(([path, methods]) => [
      path,
      Object.fromEntries(Object.entries(methods).map(([method, operation]) => [method, operationObject(path, method, operation)])),
    ]),
  );
}

/** What appgrant POSTs to a partner's notice URL (removeUrl). */
const webhooks = {
  notice: {
    post: {
      summary: 'A notice about the partner\'s installations',
      description:
        'POSTed to the partner\'s notice URL (removeUrl) for every change to its installations, in order per authorization, retried with backoff until a 2xx. Verify `appgrant-signature` before trusting it: the ES256 signature (base64url, r‖s) of `<t>.<raw body>` by the key `kid` published at `/oauth/jwks`, and `t` recent (e.g. within 5 minutes), so a captured notice cannot be replayed. Drop duplicates by `id`.',
      tags: ['OAuth'],
      parameters: [
        {
          name: 'appgrant-signature',
          in: 'header',
          required: true,
          description: '`t=<unix time>,kid=<key id>,es256=<base64url signature>`',
          schema: { type: 'string', pattern: '^t=\\d+,kid=[^,]+,es256=[A-Za-z0-9_-]+$' },
        },
      ],
      requestBody: { required: true, content: json('Notice') },
      responses: { '2XX': { description: 'Received; anything else is retried (redirects are not followed)' } },
    },
  },
};

/** The document, its one server being `serverUrl` (the ISSUER of the server that serves it). */
export function openApiDocument(serverUrl = 'http://localhost:3000'): JsonObject {
  return {
    openapi: '3.1.1',
    info: {
      title: 'appgrant',
      version: '2',
      description:
        'The platform API for apps and their keys (Sunshine Conversations v2 shapes), the OAuth endpoints partners use, and the audit trail\'s export. Errors: `{"errors":[{"code","title"}]}`; on the OAuth endpoints `{"error","error_description"}`; every 403 of the API is exactly `' +
        forbiddenBody +
        '`.',
    },
    servers: [{ url: serverUrl }],
    tags: ['Apps', 'Keys', 'Events', 'Credentials', 'Partners', 'OAuth', 'Operations'].map((name) => ({ name })),
    paths: { ...pathItems(v2Operations), ...pathItems(partnerOperations), ...pathItems(oauthOperations), ...pathItems(operatorOperations) },
    webhooks,
    components: {
      schemas: { ...componentSchemas(requestSchemas, 'input'), ...componentSchemas(answerSchemas, 'output') },
      responses,
      securitySchemes: { ...securitySchemes, oauth2: oauth2(serverUrl) },
    },
  };
}

/** The document as docs/openapi.json holds it: two-space JSON and a final newline. */
export function openApiText(serverUrl?: string): string {
  return `${JSON.stringify(openApiDocument(serverUrl), null, 2)}\n`;
}

/** GET /openapi.json: the document, naming this server; public, and readable from any origin. */
export function openApiRouter(issuer: string): Router {
  const router = new Router();
  const text = openApiText(issuer);
  router.get('/openapi.json', (ctx) => {
    ctx.set('Cache-Control', 'public, max-age=300');
    ctx.set('Access-Control-Allow-Origin', '*');
    ctx.type = 'application/json';
    ctx.body = text;
  });
  return router;
}
