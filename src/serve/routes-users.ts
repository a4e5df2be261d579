import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { JsonSchemaToTsProvider } from '@fastify/type-provider-json-schema-to-ts';
import type { UserRecord } from '../catalog/catalog-types.js';
import { LastAdminError, USER_ROLES, UserExistsError, type UserChange } from '../catalog/users-store.js';
import { idParam } from './api-schemas.js';
import { HttpError } from './http-error.js';
import type { ServiceContext } from './service-context.js';
import { requestUser } from './service-guards.js';

/**
 * The accounts over the API (issue 31 item 5): who am I, and for an admin the users, adding one
 * (its token in that answer only), changing a role and revoking. `config.role` marks each route
 * for checkAccess (service-guards.ts): no token 401, a role without the right 403. Each change
 * is recorded with the admin who made it (users-store.ts, `user_changes`).
 *
 * The last valid admin account: a service without a single `--token` refuses (409) to demote or
 * revoke it, since nobody could then manage the accounts over the API (only `whaleid users` on the
 * catalog itself). With a `--token` the service keeps an admin whatever the catalog holds, so it
 * allows it: e.g. revoking a leaked sole admin token, to add a new admin with the --token.
 */

const role = { type: 'string', enum: [...USER_ROLES] } as const;
const change = {
  type: 'object',
  properties: { action: { type: 'string', enum: ['add', 'role', 'revoke'] }, role: { ...role, nullable: true }, by: { type: 'string' }, at: { type: 'string' } },
};
const user = {
  type: 'object',
  properties: {
    id: { type: 'integer' }, name: { type: 'string' }, role, createdAt: { type: 'string' }, createdBy: { type: 'string' },
    revokedAt: { type: 'string', nullable: true, description: 'when its token was revoked (requests with it get 401); null while valid' },
    changes: { type: 'array', items: change, description: 'every add, role change and revocation of this user, oldest first, with the admin who made it' },
  },
};
const me = {
  type: 'object',
  properties: {
    name: { type: 'string', description: `the user's name; \`token\` for the service's single --token` },
    role,
    shared: { type: 'boolean', description: "true for the service's single --token (one-person use: an admin whose decisions carry the name the client sends)" },
  },
};

/** A user with its changes (the changes of every user, read once). */
const withChanges = (u: UserRecord, changes: readonly UserChange[]) => ({ ...u, changes: changes.filter((c) => c.user === u.name).map(({ action, role: r, by, at }) => ({ action, role: r, by, at })) });

/** A change that would leave no valid admin: 409, its one line. */
const lastAdminConflict = (e: unknown): never => {
  if (e instanceof LastAdminError) throw new HttpError(409, e.message);
  throw e;
};

/**
 * Registers `GET /api/me` (any valid token) and the admin routes `GET /api/users`,
 * `POST /api/users`, `PATCH /api/users/:id` and `POST /api/users/:id/revoke`.
 *
 * @param app - the Fastify app (checkAccess registered)
 * @param ctx - the service context
 * @param o - sharedToken: the service has a single `--token` (then the last valid admin account may be demoted or revoked)
 * @example
 * registerUserRoutes(app, ctx, { sharedToken: false });
 */
export function registerUserRoutes(app: FastifyInstance, ctx: ServiceContext, o: { sharedToken: boolean }): void {
  const { catalog } = ctx;
  const api = app.withTypeProvider<JsonSchemaToTsProvider>();
  const admin = { role: 'admin' as const };
  const one = async (id: number) => {
    const found = (await catalog.users()).find((u) => u.id === id);
    if (!found) throw new HttpError(404, `user ${id} not found`);
    return withChanges(found, await catalog.userChanges());
  };
  // who an account change is recorded under: the admin's name; under the single --token, the
  // name the client gives (as its decisions are)
  const by = (req: FastifyRequest): string => ctx.decidedBy(req);
  const lastAdmin = { force: o.sharedToken };

  api.get('/api/me', {
    config: { role: 'read-only' },
    schema: { summary: 'Who the token belongs to: name and role (the single --token: name `token`, role admin, shared)', security: [{ token: [] }], response: { 200: me } },
  }, async (req) => {
    const u = requestUser(req)!;
    return { name: u.name, role: u.role, shared: u.shared };
  });

  api.get('/api/users', {
    config: admin,
    schema: { summary: 'The users (admin): names, roles, revocations and who changed each; never a token', security: [{ token: [] }], response: { 200: { type: 'array', items: user } } },
  }, async () => {
    const changes = await catalog.userChanges();
    return (await catalog.users()).map((u) => withChanges(u, changes));
  });

  api.post('/api/users', {
    config: admin,
    schema: {
      summary: 'Add a user (admin), or give a revoked one a new token: the token is in this answer only (the catalog keeps its SHA-256)',
      security: [{ token: [] }],
      body: { type: 'object', properties: { name: { type: 'string', minLength: 1, maxLength: 100 }, role }, required: ['name', 'role'], additionalProperties: false } as const,
      response: { 200: { type: 'object', properties: { user, token: { type: 'string', description: 'send as Authorization: Bearer <token>; shown only here' } } } },
    },
  }, async (req) => {
    try {
      const added = await catalog.addUser(req.body.name, req.body.role, by(req));
      return { user: await one(added.user.id), token: added.token };
    } catch (e) {
      if (e instanceof UserExistsError) throw new HttpError(409, e.message);
      throw e;
    }
  });

  api.patch('/api/users/:id', {
    config: admin,
    schema: { summary: "Change a user's role (admin); 409 for the last valid admin made reviewer or read-only, unless the service has a single --token", security: [{ token: [] }], params: idParam, body: { type: 'object', properties: { role }, required: ['role'], additionalProperties: false } as const, response: { 200: user } },
  }, async (req) => {
    await catalog.setUserRole({ id: req.params.id }, req.body.role, by(req), lastAdmin).catch(lastAdminConflict);
    return one(req.params.id);
  });

  api.post('/api/users/:id/revoke', {
    config: admin,
    schema: { summary: "Revoke a user's token (admin): 401 from its next request on; its decisions keep its name. 409 for the last valid admin, unless the service has a single --token", security: [{ token: [] }], params: idParam, body: { type: 'object', properties: {}, additionalProperties: false }, response: { 200: user } },
  }, async (req) => {
    await catalog.revokeUser({ id: req.params.id }, by(req), lastAdmin).catch(lastAdminConflict);
    return one(req.params.id);
  });
}
