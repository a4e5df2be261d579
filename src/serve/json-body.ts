import type { FastifyInstance } from 'fastify';
import { HttpError } from './http-error.js';

/**
 * Deepest nesting of arrays and objects a JSON body may have. The API's bodies are flat objects
 * (depth 1); the limit leaves room and stops a small body nested thousands deep, whose value
 * overflowed the stack of every recursive function that later met it (JSON.stringify in an error
 * line ended the process).
 */
export const MAX_JSON_DEPTH = 32;

/**
 * Whether a JSON text nests arrays and objects deeper than `max`, judged in one pass over the
 * characters (brackets inside strings do not count), so a body can be refused before it is
 * parsed. The text need not be valid JSON: the parser judges the rest.
 *
 * @param text - the JSON text
 * @param max - the deepest nesting allowed
 * @returns true when some bracket opens level `max + 1`
 * @example
 * nestsDeeperThan('{"a":[[1]]}', 2); // true
 * nestsDeeperThan('{"a":"[[[["}', 1); // false
 */
export function nestsDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let k = 0; k < text.length; k++) {
    const c = text.charCodeAt(k);
    if (inString) {
      if (c === 0x5c) k++; // backslash: the next character is escaped
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

/**
 * Replaces Fastify's `application/json` parser with one that first refuses a body nested deeper
 * than `max` (400, one line, nothing echoed), then parses as Fastify does (prototype poisoning
 * refused, an empty body refused). Any error of the parser is answered, never thrown past it.
 *
 * @param app - the Fastify app, before it starts
 * @param max - the deepest nesting allowed (default {@link MAX_JSON_DEPTH})
 * @example
 * limitJsonBodies(app);
 */
export function limitJsonBodies(app: FastifyInstance, max = MAX_JSON_DEPTH): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    try {
      if (nestsDeeperThan(body as string, max)) {
        done(new HttpError(400, `body: nested deeper than ${max} levels of arrays and objects (expected a flat object of fields)`), undefined);
        return;
      }
      parse(req, body as string, done);
    } catch (e) {
      done(e as Error, undefined);
    }
  });
}
