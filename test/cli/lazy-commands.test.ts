import { describe, it, expect } from 'vitest';
import { Command } from 'commander';
import { buildProgram, COMMAND_FILES, commandFilesFor } from '../../src/cli/main.js';
import { runCli } from '../helpers/cli.js';

// main loads a command's file only for a command line that names it: the table of names it goes
// by must say what each file really registers, or a command would be missing from its own line.

const quietIo = { out: () => {}, err: () => {}, setExitCode: () => {}, progress: false };
const argv = (...words: string[]): string[] => ['node', 'whaleid', ...words];
const namesOf = (files: typeof COMMAND_FILES): string[] => files.flatMap((f) => f.names);

describe('commands loaded lazily', () => {
  it('each command file registers exactly the commands the table names, and no two files share one', async () => {
    for (const file of COMMAND_FILES) {
      const program = new Command('whaleid');
      (await file.load())(program, quietIo);
      expect(program.commands.map((c) => c.name())).toEqual(file.names);
    }
    const all = namesOf(COMMAND_FILES);
    expect(new Set(all).size).toBe(all.length);
    expect((await buildProgram(quietIo)).commands.map((c) => c.name())).toEqual(all);
  });

  it('a command line loads its command file only; --version none; help, no command or an unknown one all', async () => {
    expect(namesOf(commandFilesFor(argv('validate', '--data', 'x')))).toEqual(['validate', 'baseline']);
    expect(namesOf(commandFilesFor(argv('--verbose', 'catalog', 'import', '--catalog', 'c')))).toEqual(['catalog', 'serve']);
    expect(namesOf(commandFilesFor(argv('help', 'train')))).toEqual(['train']);
    expect(commandFilesFor(argv('--version'))).toEqual([]);
    expect(commandFilesFor(argv('-V'))).toEqual([]);
    for (const line of [argv(), argv('--help'), argv('help'), argv('trian', '--data', 'x')]) expect(commandFilesFor(line)).toBe(COMMAND_FILES);
    expect((await buildProgram(quietIo, argv('worker', '--help'))).commands.map((c) => c.name())).toEqual(['worker']);
  });

  it('the program still answers --version, its help and a misspelt command as before', async () => {
    const version = await runCli('--version');
    expect(version.code).toBe(0);
    expect(version.out).toMatch(/^\d+\.\d+\.\d+/);
    const help = await runCli('--help');
    expect(help.code).toBe(0);
    for (const name of namesOf(COMMAND_FILES)) expect(help.out).toMatch(new RegExp(`^  ${name}\\b`, 'm'));
    const typo = await runCli('trian', '--data', 'x');
    expect(typo.code).toBe(2);
    expect(typo.err).toMatch(/unknown command 'trian'[\s\S]*Did you mean train\?/);
  });
});
