import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { httpStatusOf, type ErrorCode } from '../core/errors.js';
import type { Route, Router } from './router.js';

/**
 * `GET /openapi.json`: an OpenAPI 3.1 document generated from the routes as registered, with
 * the zod schemas each handler parses its query and body with (`Route.doc`). Generated on the
 * first request, after every capability has added its routes.
 */

/** The JSON error shape every route answers with (src/http/server.ts). */
export const errorBodySchema = z
  .object({
    error: z.enum(Object.keys(httpStatusOf) as [ErrorCode, ...ErrorCode[]]).describe("A stable code; the README's HTTP API section says when each is answered."),
    message: z.string().describe('What went wrong and what to change.'),
    requestId: z.string().optional().describe('The X-Request-Id of the request, also in the server log.'),
  });

type JsonSchema = Record<string, unknown>;

/** A zod schema as JSON Schema 2020-12 (OpenAPI 3.1's dialect), inputs as a client sends them. */
function jsonSchema(schema: z.ZodType): JsonSchema {
  const out = z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' }) as JsonSchema;
  delete out.$schema;
  return out;
}

const errorRef = { $ref: '#/components/schemas/Error' };
const errorResponse = (description: string) => ({ description, content: { 'application/json': { schema: errorRef } } });

function operation(route: Route): JsonSchema {
  const doc = route.doc;
  const parameters: JsonSchema[] = [];
  for (const part of route.pattern.split('/')) {
    if (part.startsWith(':')) parameters.push({ name: part.slice(1), in: 'path', required: true, schema: { type: 'string' } });
  }
  for (const [name, schema] of Object.entries(doc?.query?.shape ?? {})) {
    const field = schema as z.ZodType;
    const described = jsonSchema(field);
    const { description, ...rest } = described;
    parameters.push({ name, in: 'query', required: !field.safeParse(undefined).success, schema: rest, ...(description ? { description } : {}) });
  }
  const responses: Record<string, unknown> = {};
  for (const [status, answer] of Object.entries(doc?.responses ?? { 200: { description: 'OK' } })) {
    const content: Record<string, unknown> = {};
    if (answer.body) content[answer.contentType ?? 'application/json'] = { schema: jsonSchema(answer.body) };
    else if (answer.contentType) content[answer.contentType] = { schema: { type: 'string' } };
    for (const type of answer.alternatives ?? []) content[type] = { schema: { type: 'string' } };
    responses[status] = { description: answer.description, ...(Object.keys(content).length > 0 ? { content } : {}) };
  }
  if (route.auth !== 'public') {
    responses['401'] ??= errorResponse('Missing or unknown bearer token');
    responses['403'] ??= errorResponse(route.auth === 'write' ? 'The token is read-only, or QUENCH_API_TOKENS is unset' : 'The token may not read this');
  }
  if (parameters.length > 0 || doc?.body) responses['400'] ??= errorResponse('Malformed request: the message says which field to fix');
  responses.default = errorResponse('Any other error, in the shared error shape');
  return {
    operationId: operationId(route),
    summary: doc?.summary ?? `${route.method} ${route.pattern}`,
    ...(doc?.description ? { description: doc.description } : {}),
    tags: [tagOf(route.pattern)],
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(doc?.body ? { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(doc.body) } } } } : {}),
    responses,
    security: route.auth === 'public' ? [] : route.auth === 'read' ? [{}, { bearerAuth: [] }] : [{ bearerAuth: [] }],
  };
}

/** `/v1/runs/:id/cancel` → `{id}` in OpenAPI's path template syntax. */
export const openApiPath = (pattern: string) => pattern.replace(/:(\w+)/g, '{$1}');

const operationId = (route: Route) =>
  route.method.toLowerCase() +
  route.pattern
    .split(/[/.-]/)
    .filter(Boolean)
    .map((part) => (part.startsWith(':') ? `By${cap(part.slice(1))}` : cap(part)))
    .join('');
const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
const tagOf = (pattern: string) => pattern.split('/').filter(Boolean)[pattern.startsWith('/v1/') ? 1 : 0] ?? 'service';

export function openApiDocument(routes: readonly Route[], version: string): JsonSchema {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const path = openApiPath(route.pattern);
    paths[path] ??= {};
    paths[path][route.method.toLowerCase()] = operation(route);
  }
  return {
    openapi: '3.1.1',
    info: {
      title: 'Quench',
      version,
      description: 'SLO-governed incident response: runs, human steps, deploy gate, audit trail. Errors share one JSON shape (Error).',
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    paths,
    components: {
      schemas: { Error: jsonSchema(errorBodySchema) },
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', description: 'A token from QUENCH_API_TOKENS (user=token or user:read=token).' },
      },
    },
  };
}

/** Registers `GET /openapi.json`; the document covers every route registered by the time it is first asked for. */
export function addOpenApiRoute(router: Router): void {
  let body: string | undefined;
  router.add({
    method: 'GET',
    pattern: '/openapi.json',
    auth: 'public',
    doc: {
      summary: 'This API as an OpenAPI 3.1 document',
      responses: {
        200: {
          description: 'The OpenAPI document',
          body: z.looseObject({
            openapi: z.string(),
            info: z.looseObject({ title: z.string(), version: z.string().describe("Quench's version") }),
            paths: z.record(z.string(), z.record(z.string(), z.unknown())),
          }),
        },
      },
    },
    handler: () => {
      body ??= JSON.stringify(openApiDocument(router.routes, packageVersion()));
      return { status: 200, text: body, headers: { 'Content-Type': 'application/json; charset=utf-8' } };
    },
  });
}

/** The version in package.json (two folders up from src/http and dist/http alike). */
function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
}
