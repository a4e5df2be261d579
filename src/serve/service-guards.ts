import { timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { UserRole } from '../catalog/catalog-types.js';
import type { UsersStore } from '../catalog/users-store.js';
import { HttpError } from './http-error.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * The least role a route needs (see {@link checkAccess}); without it GET and HEAD need none
     * and every other method a reviewer. `admin` marks an admin route.
     */
    role?: UserRole;
  }
}

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

/** Who sent a request: a user of the catalog, or the holder of the service's own `--token`. */
export interface RequestUser {
  name: string;
  role: UserRole;
  /** The service's single `--token` (one-person use): decisions keep the name the client gives. */
  shared: boolean;
}

/** The name the single `--token` acts under (as an admin). */
export const SHARED_TOKEN_USER = 'token';

const RANK: Record<UserRole, number> = { 'read-only': 0, reviewer: 1, admin: 2 };
const CAN_NOT: Record<UserRole, string> = { 'read-only': 'read', reviewer: 'upload, decide or change the catalog', admin: 'use admin routes' };
const users = new WeakMap<FastifyRequest, RequestUser>();

/**
 * The user {@link checkAccess} found for a request (null: it sent no token).
 *
 * @param req - the request
 * @returns its user
 * @example
 * requestUser(req)?.name; // 'ann'
 */
export function requestUser(req: FastifyRequest): RequestUser | null {
  return users.get(req) ?? null;
}

/**
 * Whether a role has the rights of another: admin > reviewer > read-only.
 *
 * @param role - the user's role
 * @param needed - the role a route needs
 * @returns true when `role` is at least `needed`
 * @example
 * roleAllows('reviewer', 'read-only'); // true
 */
export function roleAllows(role: UserRole, needed: UserRole): boolean {
  return RANK[role] >= RANK[needed];
}

/**
 * The least role a request's route needs: its config's `role`, else none for reads (GET, HEAD:
 * `null`, open to all as before) and a reviewer for every change.
 *
 * @param req - the request (its route already found)
 * @returns the role, or null for an open read
 * @example
 * app.post('/api/admin/x', { config: { role: 'admin' } }, handler); // neededRole: 'admin'
 */
export function neededRole(req: FastifyRequest): UserRole | null {
  const configured = (req.routeOptions.config as { role?: UserRole } | undefined)?.role;
  if (configured) return configured;
  return req.method === 'GET' || req.method === 'HEAD' ? null : 'reviewer';
}

/** What {@link checkAccess} looks tokens up in. */
export interface AccessOptions {
  /** The catalog's users (each request's token looked up by its hash: a revocation counts at once). */
  users: Pick<UsersStore, 'userByToken' | 'countActiveUsers'>;
  /** The single `--token` (acts as the admin {@link SHARED_TOKEN_USER}); null: none. */
  token: string | null;
  /** The counter of wrong tokens per client address. */
  attempts: TokenAttempts;
}

/**
 * The one place the service decides who may do what: every request's bearer token is looked up
 * (the single `--token`, compared in constant time, else a user of the catalog by its SHA-256);
 * an unknown or revoked token gets 401 on any route, a role without the right 403 naming what it
 * may not do. Reads without a token stay open; changes need a reviewer, routes marked
 * `config: { role: 'admin' }` an admin. Wrong tokens are counted per client address
 * ({@link createTokenAttempts}); a revoked token is no guess and is not counted.
 *
 * @param app - the Fastify app
 * @param o - the users, the single token, the attempt counter
 * @example
 * checkAccess(app, { users: catalog, token: process.env.WHALEID_TOKEN ?? null, attempts });
 */
export function checkAccess(app: FastifyInstance, o: AccessOptions): void {
  const shared = o.token ? Buffer.from(o.token) : null;
  app.addHook('onRequest', async (req) => {
    if (req.is404) return;
    const needed = neededRole(req);
    // the scheme's name is case-insensitive (RFC 9110 11.1): `bearer` is the same scheme
    const sent = /^bearer +(.+)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (!sent && needed === null) return;
    if (needed !== null && !shared && (await o.users.countActiveUsers()) === 0) {
      throw new HttpError(403, 'read-only service: start whaleid serve with --token, or add users (whaleid users add), to allow changes');
    }
    o.attempts.check(req.ip);
    if (!sent) throw new HttpError(401, 'missing or wrong token (send Authorization: Bearer <token>)');
    const user = await userOf(sent, shared, o.users);
    // a service that takes no token at all reads as before for a page that still sends an old one
    if (!user && needed === null && !shared && (await o.users.countActiveUsers()) === 0) return;
    if (!user) {
      o.attempts.failed(req.ip);
      throw new HttpError(401, 'missing or wrong token (send Authorization: Bearer <token>)');
    }
    if ('revokedAt' in user) throw new HttpError(401, `the token of user ${user.name} was revoked (${user.revokedAt}); an admin gives a new one with whaleid users add`);
    users.set(req, user);
    if (needed !== null && !roleAllows(user.role, needed)) {
      throw new HttpError(403, `user ${user.name} (${user.role}) may not ${CAN_NOT[needed]}: ${req.method} ${req.routeOptions.url} needs the ${needed} role`);
    }
  });
}

/** The user of a token: the shared one's, a catalog user's, a revoked user (with when), or null. */
async function userOf(sent: string, shared: Buffer | null, store: AccessOptions['users']): Promise<RequestUser | { name: string; revokedAt: string } | null> {
  const given = Buffer.from(sent);
  if (shared && given.length === shared.length && timingSafeEqual(given, shared)) return { name: SHARED_TOKEN_USER, role: 'admin', shared: true };
  const found = await store.userByToken(sent);
  if (!found) return null;
  return found.revokedAt ? { name: found.name, revokedAt: found.revokedAt } : { name: found.name, role: found.role, shared: false };
}
