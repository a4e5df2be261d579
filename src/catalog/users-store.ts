import { createHash, randomBytes } from 'node:crypto';
import type { Selectable } from 'kysely';
import { WhaleidError } from '../util/errors.js';
import { now, type CatalogDb } from './catalog-db.js';
import type { UsersTable } from './catalog-tables.js';
import { NotFoundError } from './not-found-error.js';
import type { UserRecord, UserRole } from './catalog-types.js';
import { textField } from './text-fields.js';

/** The roles, least rights first. */
export const USER_ROLES: readonly UserRole[] = ['read-only', 'reviewer', 'admin'];

/** One change of an account (migration 7's `user_changes`): who made it and when. */
export interface UserChange {
  /** The user changed. */
  user: string;
  /** `add`: added, or given a new token after a revocation; `role`: its role changed; `revoke`: its token revoked. */
  action: 'add' | 'role' | 'revoke';
  /** The role it has from this change on (null for a revocation). */
  role: UserRole | null;
  /** Who made the change: an admin's name, the system user of `whaleid users`, or `--by`. */
  by: string;
  at: string;
}

/** A user named by its name (the CLI) or its id (the API). */
export type UserKey = string | { id: number };

/** A user's name exists with a valid token (the service answers 409). */
export class UserExistsError extends WhaleidError {
  constructor(message: string) {
    super(message);
    this.name = 'UserExistsError';
  }
}

/**
 * A role change or revocation would leave the catalog with no valid admin account: nobody could
 * manage the accounts over the API of a service without a single `--token` (the service answers
 * 409; `whaleid users role|revoke --force` does it anyway).
 */
export class LastAdminError extends WhaleidError {
  constructor(message: string) {
    super(message);
    this.name = 'LastAdminError';
  }
}

/** How a role change or revocation treats the catalog's last valid admin. */
export interface LastAdminOptions {
  /** true: change the last valid admin too, leaving the catalog without one (default false: {@link LastAdminError}). */
  force?: boolean;
}

/** The accounts of the service over this catalog (migration 5; their changes, migration 7). */
export interface UsersStore {
  /**
   * Adds a user with a new token, or gives a revoked user a new token and role. The token is
   * returned here only: the catalog keeps its SHA-256.
   * @throws {@link UserExistsError} for a name whose token is still valid, {@link WhaleidError} for a bad name or role
   */
  addUser(name: string, role: UserRole, by: string): Promise<{ user: UserRecord; token: string }>;
  /** Every user, revoked ones too, in the order they were added. */
  users(): Promise<UserRecord[]>;
  /**
   * Gives a user another role (the same role: nothing changes, nothing is recorded).
   * @throws {@link NotFoundError} for an unknown user, {@link WhaleidError} for a bad role or a revoked user,
   * {@link LastAdminError} for the last valid admin made reviewer or read-only (unless `options.force`)
   */
  setUserRole(key: UserKey, role: UserRole, by: string, options?: LastAdminOptions): Promise<UserRecord>;
  /**
   * Revokes a user's token: requests with it get 401 from then on (the service looks each one up).
   * @throws {@link NotFoundError} for an unknown user, {@link WhaleidError} for one already revoked,
   * {@link LastAdminError} for the last valid admin (unless `options.force`)
   */
  revokeUser(key: UserKey, by: string, options?: LastAdminOptions): Promise<UserRecord>;
  /** Every change of every account, oldest first (empty on a catalog before migration 7 opened read-only). */
  userChanges(): Promise<UserChange[]>;
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
  if (/no such table: (users|user_changes)|relation "(users|user_changes)" does not exist/.test((e as Error)?.message ?? '')) return none;
  throw e;
};

const userOf = (r: Selectable<UsersTable>): UserRecord => ({
  id: Number(r.id), name: r.name, role: r.role, createdAt: r.created_at, createdBy: r.created_by, revokedAt: r.revoked_at,
});

/**
 * Opens the users of a catalog. Every add, role change and revocation is recorded in
 * `user_changes` with who made it, in the same transaction as the change.
 *
 * @param db - the catalog's database
 * @returns the store
 * @example
 * const { token } = await createUsers(db).addUser('ann', 'reviewer', 'admin');
 */
export function createUsers(db: CatalogDb): UsersStore {
  const byName = (name: string) => db.q().selectFrom('users').selectAll().where('name', '=', name).executeTakeFirst();
  const find = async (key: UserKey) => {
    const row = typeof key === 'string' ? await byName(key) : await db.q().selectFrom('users').selectAll().where('id', '=', key.id).executeTakeFirst();
    if (!row) throw new NotFoundError(typeof key === 'string' ? `no user named ${JSON.stringify(key)} (whaleid users list shows them)` : `user ${key.id} not found`);
    return row;
  };
  const record = (userId: number, action: UserChange['action'], role: UserRole | null, by: string) =>
    db.q().insertInto('user_changes').values({ user_id: userId, action, role, changed_by: textField('by', by, 100, true), changed_at: now() }).execute();
  // inside the change's write, which every process serialises: two admins demoting each other at
  // once cannot both pass
  const keepAnAdmin = async (old: Selectable<UsersTable>, what: string, options: LastAdminOptions | undefined) => {
    if (options?.force || old.role !== 'admin' || old.revoked_at !== null) return;
    const others = await db.q().selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n'))
      .where('role', '=', 'admin').where('revoked_at', 'is', null).where('id', '!=', old.id).executeTakeFirstOrThrow();
    if (Number(others.n) === 0) throw new LastAdminError(`user ${old.name} is the catalog's last valid admin: ${what} would leave no admin account to manage the others; add another admin first`);
  };
  return {
    addUser: (name, role, by) => db.write(async () => {
      const n = textField('name', name, 100, false, 'name');
      const r = userRole(role);
      const token = newToken();
      const old = await byName(n);
      if (old && old.revoked_at === null) throw new UserExistsError(`user ${n} exists and its token is valid; revoke it first to give a new one`);
      const values = { role: r, token_sha256: tokenHash(token), created_at: now(), created_by: textField('by', by, 100, true), revoked_at: null };
      const row = old
        ? await db.q().updateTable('users').set(values).where('id', '=', old.id).returningAll().executeTakeFirstOrThrow()
        : await db.q().insertInto('users').values({ name: n, ...values }).returningAll().executeTakeFirstOrThrow();
      await record(Number(row.id), 'add', r, by);
      return { user: userOf(row), token };
    }),
    users: async () => (await db.q().selectFrom('users').selectAll().orderBy('id').execute()).map(userOf),
    setUserRole: (key, role, by, options) => db.write(async () => {
      const r = userRole(role);
      const old = await find(key);
      if (old.revoked_at !== null) throw new WhaleidError(`user ${old.name}: its token was revoked (${old.revoked_at}); give it a new one with its role instead (whaleid users add)`);
      if (old.role === r) return userOf(old);
      await keepAnAdmin(old, `making it ${r}`, options);
      const row = await db.q().updateTable('users').set({ role: r }).where('id', '=', old.id).returningAll().executeTakeFirstOrThrow();
      await record(Number(row.id), 'role', r, by);
      return userOf(row);
    }),
    revokeUser: (key, by, options) => db.write(async () => {
      const old = await find(key);
      if (old.revoked_at !== null) throw new WhaleidError(`user ${old.name}: its token was revoked already, at ${old.revoked_at}`);
      await keepAnAdmin(old, 'revoking its token', options);
      const row = await db.q().updateTable('users').set({ revoked_at: now() }).where('id', '=', old.id).returningAll().executeTakeFirstOrThrow();
      await record(Number(row.id), 'revoke', null, by);
      return userOf(row);
    }),
    async userChanges() {
      const rows = await db.q().selectFrom('user_changes').innerJoin('users', 'users.id', 'user_changes.user_id')
        .select(['users.name', 'user_changes.action', 'user_changes.role', 'user_changes.changed_by', 'user_changes.changed_at'])
        .orderBy('user_changes.id').execute().catch(noUsersTable([]));
      return rows.map((c) => ({ user: c.name, action: c.action, role: c.role, by: c.changed_by, at: c.changed_at }));
    },
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
