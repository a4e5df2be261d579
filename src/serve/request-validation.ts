import type { FastifyInstance, FastifySchemaValidationError } from 'fastify';
import { HttpError } from './http-error.js';
import { shownJson } from '../util/errors.js';

/**
 * Ajv settings of the request schemas, over Fastify's defaults. `coerceTypes: false`: a JSON body
 * is validated as sent (`true` is not the integer 1, `[6]` not 6, `null` not ''). `removeAdditional:
 * false`: a field the schema does not name is refused, never dropped silently (a misspelt `nmae`
 * used to answer 200 and change nothing). `verbose`: errors carry the offending value and
 * schema, for messages naming both.
 */
export const STRICT_AJV = { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false, verbose: true } } as const;

/** Fastify's validation error with what a verbose Ajv adds. */
type VerboseError = FastifySchemaValidationError & { data?: unknown; parentSchema?: { properties?: object } };

/** Longest part of a received value an error line shows: a line names the value, it never echoes a whole body. */
const SHOWN_CHARS = 60;

/**
 * What came, for an error line: JSON cut to {@link SHOWN_CHARS} characters. Never throws (a value
 * JSON cannot write, e.g. a cycle, is named by its kind); integers beyond 2^53 - 1 are said to be
 * too large, as JSON parsing has already rounded them.
 */
function shown(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (typeof v === 'number' && Number.isInteger(v) && !Number.isSafeInteger(v)) return `a number beyond ±${Number.MAX_SAFE_INTEGER}`;
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  return shownJson(v, SHOWN_CHARS);
}

/**
 * One schema error as a line naming the field, what was expected and what came.
 *
 * @param e - the validation error (from a verbose validator)
 * @param dataVar - the request part: body, querystring, params
 * @returns the line
 * @example
 * schemaErrorLine({ keyword: 'type', instancePath: '/from', schemaPath: '#/properties/from/type', params: { type: 'integer' }, message: 'must be integer', data: true }, 'body');
 * // 'body/from must be integer (received true)'
 */
export function schemaErrorLine(e: VerboseError, dataVar: string): string {
  const at = `${dataVar}${e.instancePath}`;
  if (e.keyword === 'additionalProperties') {
    const known = Object.keys(e.parentSchema?.properties ?? {});
    return `${at}/${String(e.params.additionalProperty)}: unknown field (${known.length ? `expected only ${known.join(', ')}` : 'expected none'})`;
  }
  if (e.keyword === 'required') return `${at}/${String(e.params.missingProperty)}: required`;
  return `${at} ${e.message ?? 'is invalid'} (received ${shown(e.data)})`;
}

const DECIMAL = /^-?\d+(\.\d+)?$/;
const INTEGER = /^-?\d+$/;

/**
 * Path and query values arrive as text: a decimal number becomes the number its schema asks for,
 * nothing else changes. An integer that a number cannot hold exactly (beyond 2^53 - 1) is refused
 * here, as the text it came as: converted, it would be rounded to another id.
 */
function numbersOf(values: unknown, schema: unknown, dataVar: string): void {
  const props = (schema as { properties?: Record<string, { type?: string }> } | undefined)?.properties;
  if (!props || !values || typeof values !== 'object') return;
  const v = values as Record<string, unknown>;
  for (const [key, value] of Object.entries(v)) {
    const type = Object.hasOwn(props, key) ? props[key].type : undefined;
    if ((type !== 'integer' && type !== 'number') || typeof value !== 'string' || !DECIMAL.test(value)) continue;
    const n = Number(value);
    if (type === 'integer' && INTEGER.test(value) && !Number.isSafeInteger(n)) {
      const bound = n > 0 ? `<= ${Number.MAX_SAFE_INTEGER}` : `>= ${-Number.MAX_SAFE_INTEGER}`;
      throw new HttpError(400, `${dataVar}/${key} must be ${bound} (received ${value.length > SHOWN_CHARS ? `${value.slice(0, SHOWN_CHARS)}... (${value.length} digits)` : value})`);
    }
    v[key] = n;
  }
}

/**
 * A copy of a request schema whose integers are bounded by what a number holds exactly
 * (±(2^53 - 1)): ids and offsets beyond it were rounded to other ids, or beyond 64 bits failed in
 * the database (500). A tighter bound the schema gives is kept.
 */
function boundIntegers(schema: unknown): unknown {
  if (!schema || typeof schema !== 'object') return schema;
  if (Array.isArray(schema)) return schema.map(boundIntegers);
  const s: Record<string, unknown> = Object.fromEntries(Object.entries(schema).map(([k, v]) => [k, boundIntegers(v)]));
  if (s.type === 'integer') {
    s.maximum = Math.min(typeof s.maximum === 'number' ? s.maximum : Infinity, Number.MAX_SAFE_INTEGER);
    s.minimum = Math.max(typeof s.minimum === 'number' ? s.minimum : -Infinity, -Number.MAX_SAFE_INTEGER);
  }
  return s;
}

/**
 * Makes the app's request schemas strict (create the app with `ajv: STRICT_AJV`): unknown fields
 * and values of another type are refused with a 400 whose message names the field. Path
 * parameters and query strings arrive as text: a value that is a decimal number is converted to
 * the number its schema asks for before validation, and nothing else is (a repeated query field
 * stays a list and is refused). An API route without a query schema refuses any query field.
 * Integers of paths, queries and bodies are bounded by ±(2^53 - 1), the largest a number holds
 * exactly, so a larger id is refused (400 naming the field) instead of rounded to another id or
 * failing in the database. Error lines show at most the start of a received value.
 *
 * @param app - the Fastify app created with `ajv: STRICT_AJV`, before its routes are added
 * @example
 * const app = Fastify({ ajv: STRICT_AJV });
 * strictRequestValidation(app);
 */
export function strictRequestValidation(app: FastifyInstance): void {
  app.addHook('onRoute', (route) => {
    if (!route.url.startsWith('/api/')) return;
    // an API route that names no query fields takes none (a query string is refused, not ignored);
    // `properties: {}` so that the OpenAPI document lists no query parameters for it
    const querystring = route.schema?.querystring ?? { type: 'object', properties: {}, additionalProperties: false };
    route.schema = { ...route.schema, querystring };
    for (const part of ['params', 'querystring', 'body'] as const) {
      if (route.schema[part]) route.schema[part] = boundIntegers(route.schema[part]);
    }
  });
  app.addHook('preValidation', async (req) => {
    const schema = req.routeOptions.schema;
    numbersOf(req.params, schema?.params, 'params');
    numbersOf(req.query, schema?.querystring, 'querystring');
  });
  // runs inside Fastify's validation, outside any promise: an error thrown here would end the
  // process, so a line that cannot be written becomes a plain one
  app.setSchemaErrorFormatter((errors, dataVar) => {
    try {
      return new Error(errors.map((e) => schemaErrorLine(e, dataVar)).join('; '));
    } catch {
      return new Error(`${dataVar} is invalid`);
    }
  });
}
