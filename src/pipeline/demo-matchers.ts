/**
 * The demo's other matchers: a share of the catalog's individuals is held out of training, the
 * local and fused matchers are calibrated on them (`evaluate-open`'s protocol: their thresholds
 * and the fusion), then they identify the test photos. Held out, because a fusion fitted on the
 * photos the network trained on would trust its overconfident scores there.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { LabelledPhoto } from '../data/dataset.js';
import { NEW_WHALE } from '../data/labels.js';
import { evaluateOpenMatcher } from '../eval/evaluate-matchers.js';
import { calibrationFileOf, writeMatcherCalibration } from '../infer/matchers/matcher-calibration.js';
import { matcherOf, MATCHER_KINDS, type MatcherKind } from '../infer/matchers/matcher-registry.js';
import { createRng } from '../util/random.js';
import { writeFileAtomic } from '../util/atomic-file.js';

/** The individuals held out of the demo's training, as a folder-per-individual dataset. */
export interface HeldOut {
  /** The photo list the training excludes (`--exclude`). */
  excludeFile: string;
  /** The held-out photos, one folder per individual (what the matchers are calibrated on). */
  folder: string;
  individuals: number;
}

/**
 * Holds a share of the individuals with two photos or more out of training: a seeded draw, their
 * photos listed for `--exclude` and copied into one folder per individual.
 *
 * @param photos - the catalog's labelled photos
 * @param out - the demo's folder
 * @param share - the share of individuals held out
 * @param seed - the draw's seed
 * @returns the exclude list and the folder
 * @example
 * const held = await holdOutIndividuals(ds.train, 'demo-out', 0.2, 0);
 */
export async function holdOutIndividuals(photos: readonly LabelledPhoto[], out: string, share: number, seed: number): Promise<HeldOut> {
  const byId = new Map<string, LabelledPhoto[]>();
  for (const p of photos) if (p.id !== NEW_WHALE) byId.set(p.id, [...(byId.get(p.id) ?? []), p]);
  const ids = [...byId.keys()].filter((id) => byId.get(id)!.length >= 2).sort();
  const rng = createRng(seed).fork('demo-held-out');
  const drawn = rng.shuffle(ids).slice(0, Math.max(5, Math.round(share * ids.length)));
  const folder = path.join(out, 'held-out');
  const excludeFile = path.join(out, 'held-out.txt');
  await fs.rm(folder, { recursive: true, force: true });
  const names: string[] = [];
  for (const id of drawn) {
    await fs.mkdir(path.join(folder, id), { recursive: true });
    for (const p of byId.get(id)!) {
      await fs.copyFile(p.file, path.join(folder, id, p.image));
      names.push(p.image);
    }
  }
  await writeFileAtomic(excludeFile, `# individuals held out of the demo's training: the matchers are calibrated on them\n${names.join('\n')}\n`);
  return { excludeFile, folder, individuals: drawn.length };
}

/**
 * Calibrates each matcher that needs more than its run (its threshold, the fusion) on the held-out
 * individuals, and writes its calibration file.
 *
 * @param o - the run, the held-out folder, where the files go, cache and seed, where lines go
 * @returns the calibration file of each such matcher
 */
export async function calibrateOnHeldOut(o: { runDir: string; heldOut: string; out: string; cacheDir?: string; seed: number; onMessage: (line: string) => void }): Promise<Map<MatcherKind, string>> {
  const files = new Map<MatcherKind, string>();
  // the demo has one run: a matcher that fuses several learned models has nothing to fuse
  for (const kind of MATCHER_KINDS.filter((k) => !matcherOf(k).calibration.byRun && matcherOf(k).models.min <= 1)) {
    const r = await evaluateOpenMatcher({ runDir: o.runDir, data: o.heldOut, cacheDir: o.cacheDir, seed: o.seed, onMessage: o.onMessage }, kind);
    const file = calibrationFileOf(path.join(o.out, `held-out-${kind}`));
    await writeMatcherCalibration(file, r.calibration);
    files.set(kind, file);
  }
  return files;
}
