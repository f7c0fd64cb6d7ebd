import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { expect } from 'vitest';
import { openApiDocument } from '../../src/api/openapi.ts';
import { call as plainCall, type CallOptions } from './credentials.ts';

/**
 * The OpenAPI document as a contract the tests hold the server to: every
 * answer a test receives through checkedFetch or call is checked against it
 * (the operation is described, the status is one of its responses, the
 * content type one of that response's, the body valid against its schema,
 * its required headers present), so a route, status or field the document
 * does not describe fails the test that met it.
 */

type JsonObject = Record<string, unknown>;
interface MediaType {
  schema?: JsonObject;
  'x-item-schema'?: JsonObject;
}
interface ResponseObject {
  $ref?: string;
  description: string;
  headers?: Record<string, { required?: boolean }>;
  content?: Record<string, MediaType>;
}
interface Operation {
  responses: Record<string, ResponseObject>;
}

interface Webhook {
  parameters: { name: string; in: string; required: boolean; schema: JsonObject }[];
  requestBody: { content: Record<string, MediaType> };
}

const document = openApiDocument() as {
  paths: Record<string, Record<string, Operation>>;
  webhooks: Record<string, { post: Webhook }>;
  components: JsonObject & { responses: Record<string, ResponseObject> };
};

const ajv = new Ajv2020({ allErrors: true, strict: false });
addFormats.default(ajv);

const templates = Object.keys(document.paths).map((template) => ({
  template,
  pattern: new RegExp(`^${template.replace(/[.]/g, '\\.').replace(/\{\w+\}/g, '[^/]+')}$`),
}));

/** The described path a request path falls under, if any. */
export function describedPath(path: string): string | undefined {
  return templates.find(({ pattern }) => pattern.test(path))?.template;
}

/** The operation the document describes for a method and path, if it does. */
export function describedOperation(method: string, path: string): Operation | undefined {
  const template = describedPath(path);
  return template ? document.paths[template]?.[method.toLowerCase()] : undefined;
}

function resolved(response: ResponseObject): ResponseObject {
  if (!response.$ref) return response;
  const name = response.$ref.replace('#/components/responses/', '');
  return document.components.responses[name] as ResponseObject;
}

const validators = new Map<string, ValidateFunction>();

/** A validator for one schema of the document; references resolve against its components. */
function validatorFor(key: string, schema: JsonObject): ValidateFunction {
  let validate = validators.get(key);
  if (!validate) {
    validate = ajv.compile({ ...schema, components: document.components });
    validators.set(key, validate);
  }
  return validate;
}

function expectValid(key: string, schema: JsonObject, value: unknown, where: string): void {
  const validate = validatorFor(key, schema);
  const valid = validate(value);
  expect(valid, `${where}: the body does not match the OpenAPI document: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(value)}`).toBe(true);
}

/** Checks one answer against the document; `response` must not have been read yet (a clone is read). */
export async function expectDescribed(method: string, url: string | URL, response: Response): Promise<void> {
  const path = new URL(url).pathname;
  const where = `${method} ${path} → ${response.status}`;
  const operation = describedOperation(method, path);
  expect(operation, `${where}: the OpenAPI document describes no such operation`).toBeDefined();
  const described = operation!.responses[String(response.status)];
  expect(described, `${where}: the OpenAPI document does not describe this status`).toBeDefined();
  const answer = resolved(described!);
  for (const [name, header] of Object.entries(answer.headers ?? {})) {
    if (header.required) expect(response.headers.get(name), `${where}: the document requires the ${name} header`).not.toBeNull();
  }
  const text = await response.clone().text();
  if (!answer.content) {
    expect(text, `${where}: the document describes no body`).toBe('');
    return;
  }
  const type = (response.headers.get('content-type') ?? '').split(';')[0]!.trim();
  const media = answer.content[type];
  expect(media, `${where}: the document does not describe the content type "${type}" (it has ${Object.keys(answer.content).join(', ')})`).toBeDefined();
  const key = `${method} ${describedPath(path)} ${response.status} ${type}`;
  if (media!['x-item-schema']) {
    const lines = text.split('\n').filter(Boolean);
    lines.forEach((line, index) => expectValid(`${key} item`, media!['x-item-schema']!, JSON.parse(line), `${where} line ${index + 1}`));
    return;
  }
  // JSON bodies are checked parsed; any other (a page, a redirect's note) as the text it is.
  expectValid(key, media!.schema ?? {}, /[/+]json$/.test(type) ? JSON.parse(text) : text, where);
}

/** fetch, with the answer checked against the document. */
export async function checkedFetch(url: string | URL, init: RequestInit = {}): Promise<Response> {
  const response = await fetch(url, init);
  await expectDescribed(init.method ?? 'GET', url, response);
  return response;
}

/** One API request (see credentials.ts, call), with the answer checked against the document. */
export async function call(base: string, method: string, path: string, options: CallOptions = {}): Promise<Response> {
  const response = await plainCall(base, method, path, options);
  await expectDescribed(method, `${base}${path}`, response);
  return response;
}

/**
 * For tests that probe what the API does outside its description (unknown
 * paths, methods it does not answer, malformed URLs): the document must
 * indeed not describe the operation, so a probe cannot hide a described one.
 */
export function expectUndescribed(method: string, path: string): void {
  expect(describedOperation(method, path), `${method} ${path} is described by the OpenAPI document: check it with call or checkedFetch`).toBeUndefined();
}

/** A notice appgrant sent (its headers and raw body) as the document's `notice` webhook describes it. */
export function expectDescribedNotice(headers: Record<string, string | string[] | undefined>, body: string): void {
  const webhook = document.webhooks.notice!.post;
  for (const parameter of webhook.parameters.filter((each) => each.in === 'header')) {
    const value = headers[parameter.name.toLowerCase()];
    if (parameter.required) expect(value, `a notice without its ${parameter.name} header`).toBeDefined();
    expectValid(`notice header ${parameter.name}`, parameter.schema, value, `notice header ${parameter.name}`);
  }
  const type = String(headers['content-type'] ?? '').split(';')[0]!.trim();
  const media = webhook.requestBody.content[type];
  expect(media, `a notice of content type "${type}", which the document does not describe`).toBeDefined();
  expectValid('notice body', media!.schema ?? {}, JSON.parse(body), 'notice');
}
