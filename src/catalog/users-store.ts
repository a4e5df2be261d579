import { createHash, randomBytes } from 'node:crypto';
import type { Selectable } from 'kysely';
import { WhaleidError } from '../util/errors.js';
import { now, type CatalogDb } from './catalog-db.js';
import type { UsersTable } from './catalog-tables.js';
import type { UserRecord, UserRole } from './catalog-types.js';
import { textField } from './text-fields.js';

/** The roles, least rights first. */
export const USER_ROLES: readonly UserRole[] = ['read-only', 'reviewer', 'admin'];

/** The accounts of the service over this catalog (migration 5). */
export interface UsersStore {
  /**
   * Adds a user with a new token, or gives a revoked user a new token and role. The token is
   * returned here only: the catalog keeps its SHA-256.
   * @throws {@link WhaleidError} for a bad name or role, or a name whose token is still valid
   */
  addUser(name: string, role: UserRole, by: string): Promise<{ user: UserRecord; token: string }>;
  /** Every user, revoked ones too, in the order they were added. */
  users(): Promise<UserRecord[]>;
  /**
   * Revokes a user's token: requests with it get 401 from then on (the service looks each one up).
   * @throws {@link WhaleidError} for an unknown or already revoked name
   */
  revokeUser(name: string): Promise<UserRecord>;
  /** The user a bearer token belongs to (revoked ones too: the caller says so), or null. */
  userByToken(token: string): Promise<UserRecord | null>;
  /** How many users hold a valid token. */
  countActiveUsers(): Promise<number>;
}

/**
 * The SHA-256 of a token, hex: what the catalog keeps. A plain hash, not bcrypt or scrypt: those
 * slow down guessing a low-entropy password, but a token is 32 random bytes (2^256 to try), so a
 * stolen hash cannot be reversed anyway; a fast, unsalted hash also lets each request find its
 * user by one indexed lookup, where a salted slow hash would cost ~100 ms of CPU per request and
 * a comparison with every user.
 *
 * @param token - the bearer token as sent
 * @returns 64 hex digits
 * @example
 * tokenHash('whaleid_abc'); // '5f0e...'
 */
export function tokenHash(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/**
 * A new token: `whaleid_` and 32 random bytes in base64url (the prefix lets secret scanners and
 * people recognise one).
 *
 * @returns the token
 * @example
 * newToken(); // 'whaleid_Jx3...' (51 characters)
 */
export function newToken(): string {
  return `whaleid_${randomBytes(32).toString('base64url')}`;
}

/**
 * Checks a role name.
 *
 * @param role - what was given
 * @returns the role
 * @throws {@link WhaleidError} naming the roles
 * @example
 * userRole('reviewer'); // 'reviewer'
 */
export function userRole(role: unknown): UserRole {
  if (typeof role === 'string' && (USER_ROLES as readonly string[]).includes(role)) return role as UserRole;
  throw new WhaleidError(`role: expected one of ${USER_ROLES.join(', ')} but got ${JSON.stringify(role)}`);
}

/**
 * A catalog opened read-only before migration 5 has no users table: it has no users (the service
 * over it takes only `--token`), instead of failing every lookup.
 */
const noUsersTable = <T>(none: T) => (e: unknown): T => {
  if (/no such table: users|relation "users" does not exist/.test((e as Error)?.message ?? '')) return none;
  throw e;
};

const userOf = (r: Selectable<UsersTable>): UserRecord => ({
  id: Number(r.id), name: r.name, role: r.role, createdAt: r.created_at, createdBy: r.created_by, revokedAt: r.revoked_at,
});

/**
 * Opens the users of a catalog.
 *
 * @param db - the catalog's database
 * @returns the store
 * @example
 * const { token } = await createUsers(db).addUser('ann', 'reviewer', 'admin');
 */
export function createUsers(db: CatalogDb): UsersStore {
  const byName = (name: string) => db.q().selectFrom('users').selectAll().where('name', '=', name).executeTakeFirst();
  return {
    addUser: (name, role, by) => db.write(async () => {
      const n = textField('name', name, 100, false, 'name');
      const r = userRole(role);
      const token = newToken();
      const old = await byName(n);
      if (old && old.revoked_at === null) throw new WhaleidError(`user ${n} exists and its token is valid; revoke it first (whaleid users revoke --name ${n}) to give a new one`);
      const values = { role: r, token_sha256: tokenHash(token), created_at: now(), created_by: textField('by', by, 100, true), revoked_at: null };
      const row = old
        ? await db.q().updateTable('users').set(values).where('id', '=', old.id).returningAll().executeTakeFirstOrThrow()
        : await db.q().insertInto('users').values({ name: n, ...values }).returningAll().executeTakeFirstOrThrow();
      return { user: userOf(row), token };
    }),
    users: async () => (await db.q().selectFrom('users').selectAll().orderBy('id').execute()).map(userOf),
    revokeUser: (name) => db.write(async () => {
      const old = await byName(name);
      if (!old) throw new WhaleidError(`no user named ${JSON.stringify(name)} (whaleid users list shows them)`);
      if (old.revoked_at !== null) throw new WhaleidError(`user ${old.name}: its token was revoked already, at ${old.revoked_at}`);
      return userOf(await db.q().updateTable('users').set({ revoked_at: now() }).where('id', '=', old.id).returningAll().executeTakeFirstOrThrow());
    }),
    async userByToken(token) {
      const row = await db.q().selectFrom('users').selectAll().where('token_sha256', '=', tokenHash(token)).executeTakeFirst().catch(noUsersTable(undefined));
      return row ? userOf(row) : null;
    },
    async countActiveUsers() {
      const r = await db.q().selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n')).where('revoked_at', 'is', null).executeTakeFirst().catch(noUsersTable(undefined));
      return Number(r?.n ?? 0);
    },
  };
}
