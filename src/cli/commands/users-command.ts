import os from 'node:os';
import type { Command } from 'commander';
import { defineCommand } from '../option-table.js';
import { choice, switchOn, text } from '../option-field.js';
import { common } from '../common-options.js';
import type { CliIo } from '../io.js';
import type { UserRole } from '../../catalog/catalog-types.js';

/**
 * `whaleid users add|list|revoke`: the accounts of the photo-ID service, kept in the catalog
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

/**
 * Registers `whaleid users add|list|revoke`.
 *
 * @param program - the whaleid program
 * @param io - where output goes
 * @example
 * registerUsersCommand(program, io);
 */
export function registerUsersCommand(program: Command, io: CliIo): void {
  const users = program.command('users').description('accounts of the photo-ID service: a token per user, with a role (read-only, reviewer, admin), revocable');

  defineCommand(users, {
    name: 'add',
    description: 'add a user (or give a revoked one a new token): prints the token once on stdout; the catalog keeps only its SHA-256',
    example: 'whaleid users add --catalog whales.db --name ann --role reviewer',
    options: { catalog, photos: common.photos, name, role: choice('--role <role>', 'what the user may do', ROLES, (r) => ABOUT[r]).required('the role: read-only, reviewer or admin'), by: text('--by <name>', 'who is recorded as having added the user').withDefault(osUserName(), 'the system user running it') },
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
    description: 'the users of a catalog: name, role, when added and by whom, revoked or not (never a token)',
    example: 'whaleid users list --catalog whales.db',
    options: { catalog, photos: common.photos, json: switchOn('--json', 'one JSON array instead of lines') },
    run: async (opts) => {
      const cat = await (await import('../../catalog/catalog.js')).openCatalog(opts.catalog, { create: false, photoDir: opts.photos });
      try {
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
    name: 'revoke',
    description: 'revoke a user\'s token: the service answers it with 401 from the next request on',
    example: 'whaleid users revoke --catalog whales.db --name ann',
    options: { catalog, photos: common.photos, name },
    run: async (opts) => {
      const cat = await (await import('../../catalog/catalog.js')).openCatalog(opts.catalog, { create: false, photoDir: opts.photos });
      try {
        const user = await cat.revokeUser(opts.name);
        io.out(`user ${user.name}: token revoked at ${user.revokedAt}; its decisions keep its name`);
      } finally {
        await cat.close();
      }
    },
  });
}
