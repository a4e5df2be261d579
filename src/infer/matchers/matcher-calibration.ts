/**
 * A matcher's calibration file (`<out>.matcher.json`): written by `evaluate-open --matcher` from
 * its calibration part and by `model calibrate --matcher` (a labelled dataset or a catalog's
 * decisions), read by predict and the service. One module writes and reads it, so the two sides
 * cannot drift apart.
 */
import { promises as fs } from 'node:fs';
import { renameNoReplace, writeFileAtomic } from '../../util/atomic-file.js';
import { WhaleidError } from '../../util/errors.js';
import { parseFusionModel, type FusionModel } from '../fusion/fusion-model.js';
import { matcherOf, type MatcherKind } from './matcher-registry.js';

/** What a matcher was calibrated to on held-out individuals. */
export interface MatcherCalibration {
  matcher: MatcherKind;
  /** new-individual threshold on the matcher's score. */
  threshold: number;
  /** The fitted fusion (matchers whose ranking needs one). */
  fusion?: FusionModel;
}

/** The calibration file written beside an evaluation's output. */
export const calibrationFileOf = (out: string): string => `${out}.matcher.json`;

/**
 * Writes a matcher's calibration (atomically: a temporary file renamed into place).
 *
 * @param file - where (usually {@link calibrationFileOf} the evaluation's output)
 * @param calibration - the matcher, its threshold and fusion
 * @param o - `replace: false` refuses a file that is there (checked at the rename: a file that
 *   appeared meanwhile is not replaced either); default true (the command's --force was checked)
 * @returns resolves once written
 * @throws {@link WhaleidError} when `replace` is false and the file exists
 * @example
 * await writeMatcherCalibration('eval.csv.matcher.json', { matcher: 'local', threshold: 3.2 });
 * await writeMatcherCalibration('models/a/fused.matcher.json', cal, { replace: false }); // throws when it exists
 */
export async function writeMatcherCalibration(file: string, calibration: MatcherCalibration, o: { replace?: boolean } = {}): Promise<void> {
  const text = JSON.stringify(calibration, null, 1);
  if (o.replace !== false) return writeFileAtomic(file, text);
  const partial = `${file}.${process.pid}.partial`;
  await writeFileAtomic(partial, text);
  if (!(await renameNoReplace(partial, file))) {
    await fs.rm(partial, { force: true });
    throw new WhaleidError(`${file}: exists; give --force to replace the matcher calibration there`);
  }
}

/**
 * Reads and checks a matcher's calibration file.
 *
 * @param file - the calibration file
 * @param matcher - the matcher it must be for
 * @returns the calibration
 * @throws {@link WhaleidError} naming the file and the field that is missing or wrong
 * @example
 * const c = await readMatcherCalibration('eval.csv.matcher.json', 'fused'); // { matcher, threshold, fusion }
 */
export async function readMatcherCalibration(file: string, matcher: MatcherKind): Promise<MatcherCalibration> {
  let value: Partial<MatcherCalibration>;
  try {
    value = JSON.parse(await fs.readFile(file, 'utf8')) as Partial<MatcherCalibration>;
  } catch (err) {
    throw new WhaleidError(`${file}: cannot read the matcher calibration (${(err as Error).message.split('\n')[0]}); expected the .matcher.json written by evaluate-open --matcher ${matcher}`);
  }
  if (value.matcher !== matcher) throw new WhaleidError(`${file}: field matcher: expected "${matcher}" (a calibration of the matcher asked for), got ${JSON.stringify(value.matcher)}`);
  if (!Number.isFinite(value.threshold)) throw new WhaleidError(`${file}: field threshold: expected a number`);
  const fusion = matcherOf(matcher).calibration.fusion ? parseFusionModel(value.fusion, `${file} (fusion)`) : undefined;
  return { matcher, threshold: value.threshold as number, ...(fusion ? { fusion } : {}) };
}

/**
 * Refuses a calibration that cannot serve a matcher: one of another matcher, or one without the
 * fusion the matcher ranks by. Checked before any work starts.
 *
 * @param kind - the matcher
 * @param calibration - what was given (undefined: none)
 * @throws {@link WhaleidError} naming what is missing and which command writes it
 * @example
 * checkCalibrationFor('fused', undefined); // throws: --matcher fused needs --matcher-calibration FILE ...
 */
export function checkCalibrationFor(kind: MatcherKind, calibration: MatcherCalibration | undefined): void {
  if (calibration && calibration.matcher !== kind) throw new WhaleidError(`the matcher calibration is for --matcher ${calibration.matcher}, not ${kind}`);
  if (matcherOf(kind).calibration.fusion && !calibration?.fusion) throw new WhaleidError(`--matcher ${kind} needs --matcher-calibration FILE with its fusion: the .matcher.json that evaluate-open --matcher ${kind} writes`);
}
