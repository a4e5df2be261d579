import type { FastifyInstance, FastifySchemaValidationError } from 'fastify';

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

const shown = (v: unknown): string => (v === undefined ? 'nothing' : JSON.stringify(v) ?? String(v));

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

/** Path and query values arrive as text: a decimal number becomes the number its schema asks for, nothing else changes. */
function numbersOf(values: unknown, schema: unknown): void {
  const props = (schema as { properties?: Record<string, { type?: string }> } | undefined)?.properties;
  if (!props || !values || typeof values !== 'object') return;
  const v = values as Record<string, unknown>;
  for (const [key, value] of Object.entries(v)) {
    const type = Object.hasOwn(props, key) ? props[key].type : undefined;
    if ((type === 'integer' || type === 'number') && typeof value === 'string' && DECIMAL.test(value)) v[key] = Number(value);
  }
}

/**
 * Makes the app's request schemas strict (create the app with `ajv: STRICT_AJV`): unknown fields
 * and values of another type are refused with a 400 whose message names the field. Path
 * parameters and query strings arrive as text: a value that is a decimal number is converted to
 * the number its schema asks for before validation, and nothing else is (a repeated query field
 * stays a list and is refused). An API route without a query schema refuses any query field.
 *
 * @param app - the Fastify app created with `ajv: STRICT_AJV`, before its routes are added
 * @example
 * const app = Fastify({ ajv: STRICT_AJV });
 * strictRequestValidation(app);
 */
export function strictRequestValidation(app: FastifyInstance): void {
  // an API route that names no query fields takes none (a query string is refused, not ignored)
  app.addHook('onRoute', (route) => {
    if (route.url.startsWith('/api/') && !route.schema?.querystring) route.schema = { ...route.schema, querystring: { type: 'object', additionalProperties: false } };
  });
  app.addHook('preValidation', async (req) => {
    const schema = req.routeOptions.schema;
    numbersOf(req.params, schema?.params);
    numbersOf(req.query, schema?.querystring);
  });
  app.setSchemaErrorFormatter((errors, dataVar) => new Error(errors.map((e) => schemaErrorLine(e, dataVar)).join('; ')));
}
