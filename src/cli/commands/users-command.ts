import os from 'node:os';
import type { Command } from 'commander';
import { defineCommand } from '../option-table.js';
import { choice, switchOn, text } from '../option-field.js';
import { common } from '../common-options.js';
import type { CliIo } from '../io.js';
import type { UserRole } from '../../catalog/catalog-types.js';

/**
 * `whaleid users add|list|role|revoke`: the accounts of the photo-ID service, kept in the catalog
 * (src/catalog/users-store.ts); the service looks every request's token up there.
 */

/**
 * The operating system's name of whoever runs the command: who an import or a new user is
 * recorded under unless `--by` says otherwise.
 *
 * @returns the login name, or `cli` when the system has none for this process (a container's uid)
 * @example
 * osUserName(); // 'ann'
 */
export function osUserName(): string {
  try {
    return os.userInfo().username || 'cli';
  } catch {
    return 'cli';
  }
}

const ROLES = (): readonly UserRole[] => ['read-only', 'reviewer', 'admin'];
const ABOUT: Record<UserRole, string> = { 'read-only': 'reads', reviewer: 'reads, uploads, decides', admin: 'everything' };
const catalog = common.catalog.required('the catalog: a SQLite file or a postgres:// URL');
const name = text('--name <name>', 'the user\'s name (recorded with every decision it makes)').required('the user\'s name');
const role = () => choice('--role <role>', 'what the user may do', ROLES, (r) => ABOUT[r]).required('the role: read-only, reviewer or admin');
const by = text('--by <name>', 'who is recorded as having made the change').withDefault(osUserName(), 'the system user running it');
const force = switchOn('--force', "change the catalog's last valid admin too, leaving no admin account (a service without --token then has nobody to manage accounts over the API)");

/** The store's refusal for the last valid admin, with the switch that overrides it. */
const orForce = (e: unknown): never => {
  if (e instanceof Error && e.name === 'LastAdminError') e.message += ' (--force does it anyway)';
  throw e;
};

/**
 * Registers `whaleid users add|list|role|revoke`.
 *
 * @param program - the whaleid program
 * @param io - where output goes
 * @example
 * registerUsersCommand(program, io);
 */
export function registerUsersCommand(program: Command, io: CliIo): void {
  const users = program.command('users').description('accounts of the photo-ID service: a token per user, with a role (read-only, reviewer, admin), revocable; every change recorded with who made it');

  defineCommand(users, {
    name: 'add',
    description: 'add a user (or give a revoked one a new token): prints the token once on stdout; the catalog keeps only its SHA-256',
    example: 'whaleid users add --catalog whales.db --name ann --role reviewer',
    options: { catalog, photos: common.photos, name, role: role(), by },
    run: async (opts) => {
      const cat = await (await import('../../catalog/catalog.js')).openCatalog(opts.catalog, { create: false, photoDir: opts.photos });
      try {
        const { user, token } = await cat.addUser(opts.name, opts.role, opts.by);
        io.err(`user ${user.name} (${user.role}) added to ${cat.file}; its token follows, shown only now (the catalog keeps its SHA-256): send it as Authorization: Bearer <token>, or enter it on the review page`);
        io.out(token);
      } finally {
        await cat.close();
      }
    },
  });

  defineCommand(users, {
    name: 'list',
    description: 'the users of a catalog: name, role, when added and by whom, revoked or not (never a token); --changes: every add, role change and revocation with who made it',
    example: 'whaleid users list --catalog whales.db',
    options: { catalog, photos: common.photos, json: switchOn('--json', 'one JSON array instead of lines'), changes: switchOn('--changes', 'the changes of the accounts instead, oldest first') },
    run: async (opts) => {
      const cat = await (await import('../../catalog/catalog.js')).openCatalog(opts.catalog, { create: false, photoDir: opts.photos });
      try {
        if (opts.changes) {
          const changes = await cat.userChanges();
          if (opts.json) return io.out(JSON.stringify(changes));
          for (const c of changes) io.out(`${c.at}\t${c.user}\t${c.action}${c.role ? ` ${c.role}` : ''}\tby ${c.by || '?'}`);
          return;
        }
        const list = await cat.users();
        if (opts.json) return io.out(JSON.stringify(list));
        if (!list.length) io.err(`${cat.file}: no users (whaleid users add --name N --role R adds one)`);
        for (const u of list) io.out(`${u.name}\t${u.role}\tadded ${u.createdAt} by ${u.createdBy || '?'}\t${u.revokedAt ? `revoked ${u.revokedAt}` : 'valid'}`);
      } finally {
        await cat.close();
      }
    },
  });

  defineCommand(users, {
    name: 'role',
    description: 'give a user another role (recorded with who changed it); its token stays the same; refused for the last valid admin unless --force',
    example: 'whaleid users role --catalog whales.db --name ann --role read-only',
    options: { catalog, photos: common.photos, name, role: role(), by, force },
    run: async (opts) => {
      const cat = await (await import('../../catalog/catalog.js')).openCatalog(opts.catalog, { create: false, photoDir: opts.photos });
      try {
        const user = await cat.setUserRole(opts.name, opts.role, opts.by, { force: opts.force }).catch(orForce);
        io.out(`user ${user.name}: ${user.role}`);
      } finally {
        await cat.close();
      }
    },
  });

  defineCommand(users, {
    name: 'revoke',
    description: 'revoke a user\'s token: the service answers it with 401 from the next request on; refused for the last valid admin unless --force',
    example: 'whaleid users revoke --catalog whales.db --name ann',
    options: { catalog, photos: common.photos, name, by, force },
    run: async (opts) => {
      const cat = await (await import('../../catalog/catalog.js')).openCatalog(opts.catalog, { create: false, photoDir: opts.photos });
      try {
        const user = await cat.revokeUser(opts.name, opts.by, { force: opts.force }).catch(orForce);
        io.out(`user ${user.name}: token revoked at ${user.revokedAt}; its decisions keep its name`);
      } finally {
        await cat.close();
      }
    },
  });
}
