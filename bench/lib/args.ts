/**
 * The value after `--name` on the command line, or `dflt` when the flag is absent: the small
 * option reader the single-purpose bench scripts share (run-all passes them their quick flags).
 *
 * @param name - flag name without the dashes
 * @param dflt - value when the flag is not given
 * @param argv - arguments; default this process's
 * @returns the flag's value as given
 * @example
 * const sizes = flagValue('sizes', '192,384').split(',').map(Number);
 */
export function flagValue(name: string, dflt: string, argv: readonly string[] = process.argv.slice(2)): string {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : dflt;
}
