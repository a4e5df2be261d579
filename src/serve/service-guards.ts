import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { FastifyInstance } from 'fastify';
import { HttpError } from './http-error.js';

/** Host names every service answers to: this machine's own. */
const LOCAL_NAMES = ['localhost'];

/**
 * The host name of a `Host` header: without its port, IPv6 without brackets, lower case.
 *
 * @param host - the header (`example.org:8080`, `[::1]:8080`)
 * @returns the name, or '' when there is none
 * @example
 * hostName('[::1]:8080'); // '::1'
 */
export function hostName(host: string | undefined): string {
  const h = (host ?? '').trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(1, h.indexOf(']') > 0 ? h.indexOf(']') : undefined);
  return h.replace(/:\d*$/, '');
}

/** Addresses of this machine's interfaces (for a service bound to every interface). */
function interfaceAddresses(): string[] {
  return Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((a) => a.address.toLowerCase()));
}

/**
 * Refuses requests whose `Host` is not this service's (403), against DNS rebinding: a web page on
 * another site that points its own name at 127.0.0.1 reaches the port, but its requests carry
 * that name. Allowed: `localhost` and `*.localhost`, loopback addresses, the address the service
 * listens on (every interface's when it listens on all of them), and the names given.
 *
 * @param app - the Fastify app
 * @param allowed - further host names (the machine's DNS name when serving a network)
 * @example
 * checkHost(app, ['whales.lab.example']);
 */
export function checkHost(app: FastifyInstance, allowed: readonly string[] = []): void {
  const names = new Set([...LOCAL_NAMES, ...allowed.map((n) => hostName(n))]);
  const isAllowed = (name: string): boolean => {
    if (names.has(name) || name.endsWith('.localhost')) return true;
    if (!isIP(name)) return false;
    if (name === '::1' || name.startsWith('127.')) return true;
    const bound = app.server.address();
    const own = typeof bound === 'object' && bound ? bound.address.toLowerCase() : '';
    return own === '0.0.0.0' || own === '::' ? interfaceAddresses().includes(name) : name === own;
  };
  app.addHook('onRequest', async (req) => {
    const name = hostName(req.headers.host);
    if (!isAllowed(name)) {
      throw new HttpError(403, `Host ${JSON.stringify(req.headers.host ?? '')} is not this service's (allowed: localhost, loopback and the address it listens on${allowed.length ? `, ${allowed.join(', ')}` : ''}; whaleid serve --allow-host NAME adds a name)`);
    }
  });
}

/** Options of {@link createTokenAttempts}. */
export interface TokenAttemptLimit {
  /** Wrong tokens one client address may send within `windowMs` before it is refused. Default 10. */
  attempts: number;
  /** The window, in milliseconds. Default 60,000. */
  windowMs: number;
}

/** Counts wrong tokens per client address. */
export interface TokenAttempts {
  /** Refuses (429, with Retry-After) a client that sent too many wrong tokens lately, whatever its token now. */
  check(client: string): void;
  /** Records a wrong token from a client. */
  failed(client: string): void;
}

/** Most client addresses remembered at once (the oldest are forgotten first). */
const MAX_CLIENTS = 10_000;

/**
 * A limit on wrong tokens per client address, so a token cannot be guessed at network speed
 * (300 guesses in 1.9 s before). Only wrong tokens count: a request without one is no guess,
 * and a reviewer who forgot to enter the token is never locked out. While a client is over the
 * limit even the right token is refused, or guessing would simply continue.
 *
 * @param limit - attempts per window
 * @param now - the clock (milliseconds)
 * @returns the counter
 * @example
 * const attempts = createTokenAttempts({ attempts: 10, windowMs: 60_000 });
 * attempts.check(req.ip); // throws 429 when over the limit
 */
export function createTokenAttempts(limit: TokenAttemptLimit, now: () => number = Date.now): TokenAttempts {
  const failures = new Map<string, number[]>();
  const recent = (client: string): number[] => {
    const since = now() - limit.windowMs;
    const list = (failures.get(client) ?? []).filter((t) => t > since);
    if (list.length) failures.set(client, list);
    else failures.delete(client);
    return list;
  };
  return {
    check(client) {
      const list = recent(client);
      if (list.length < limit.attempts) return;
      const wait = Math.max(1, Math.ceil((list[list.length - limit.attempts] + limit.windowMs - now()) / 1000));
      throw new HttpError(429, `too many wrong tokens from this address: try again in ${wait} s`, { 'retry-after': String(wait) });
    },
    failed(client) {
      const list = recent(client);
      list.push(now());
      failures.delete(client);
      failures.set(client, list);
      if (failures.size > MAX_CLIENTS) failures.delete(failures.keys().next().value!);
    },
  };
}
