import type { Siamese } from '../model/network/siamese.js';
import { readHeadWeights } from '../model/network/head.js';
import { computeFeaturesOnnx } from '../infer/branch-features.js';
import { cosineHeadWeights } from '../model/network/head-weights.js';
import { chooseScorer, normalizeRows, type ScorerChoice, type ScorerSetting } from './scorer-choice.js';
import { evaluateValidation, gatherRows, type ValidationResult } from './validation.js';
import type { TrainingData } from './training-data.js';

/** Validation of a run's network at each schedule group's start and at its end. */
export interface RunValidator {
  /**
   * Features of every validation and gallery photo (the training photos among them), and, when
   * the run has validation queries, their figures: recorded in the log and said.
   *
   * @param siamese - the network (an engine's state written into it first)
   * @param epoch - epochs trained so far (for the record)
   * @returns the features, one row per evaluated photo
   */
  run(siamese: Siamese, epoch: number): Promise<Float32Array>;
  /**
   * The training photos' rows of {@link RunValidator.run}'s features, in `split.train` order:
   * the input of the score matrix the pair miner draws from.
   */
  trainFeatures(features: Float32Array, featureCount: number): Float32Array;
  /** The latest validation figures (null before the first, or without queries). */
  last(): ValidationResult | null;
  /**
   * Decides the scorer the run exports (see `scorer-choice.ts`), records and says it; when it is
   * the cosine, the validation figures become the cosine's (so {@link RunValidator.last} and the
   * threshold stored with the run are those of what prediction will use).
   *
   * @param siamese - the trained network
   * @param features - {@link RunValidator.run}'s features of the final network
   * @param setting - the run's `scorer` setting
   * @returns the choice, or null when the run has no validation queries (the head is kept)
   */
  chooseScorer(siamese: Siamese, features: Float32Array, setting: ScorerSetting): Promise<ScorerChoice | null>;
}

/**
 * A validator over the run's gallery and queries.
 *
 * @param data - the prepared data
 * @param record - appends a record to the run's log
 * @param say - a line for the user
 * @returns the validator
 * @example
 * const validator = createRunValidator(data, record, say);
 * const features = await validator.run(siamese, 0);
 */
export function createRunValidator(data: TrainingData, record: (entry: Record<string, unknown>) => Promise<void>, say: (line: string) => void): RunValidator {
  const { split, ids } = data;
  const evalPhotos = [...new Set([...split.gallery, ...split.queries.map((q) => q.index)])].sort((a, b) => a - b);
  const rowOf = new Map(evalPhotos.map((p, r) => [p, r]));
  let last: ValidationResult | null = null;
  return {
    async run(siamese, epoch) {
      // features for the score matrix and validation through ONNX Runtime: 3-7x faster than tfjs-wasm
      const feats = await computeFeaturesOnnx(siamese.branch, data.cache, evalPhotos.map((i) => data.request(i)), data.crop);
      if (split.queries.length > 0) {
        const v = evaluateValidation(feats, rowOf, ids, split, readHeadWeights(siamese.head));
        last = v;
        await record({ kind: 'validation', epoch, map5: v.map5, threshold: v.threshold, top1: v.top1, closedTop1: v.closedTop1, queries: v.queries, newWhaleBaseline: v.newWhaleBaseline, chance: v.chance, curve: v.curve.map((c) => [c.threshold, c.map5]) });
        say(`epoch ${epoch}: validation MAP@5 ${v.map5.toFixed(4)} (threshold ${v.threshold}), top-1 ${v.top1.toFixed(3)}, closed-set top-1 ${v.closedTop1.toFixed(3)}`);
      }
      return feats;
    },
    trainFeatures: (features, F) => gatherRows(features, rowOf, split.train, F),
    last: () => last,
    async chooseScorer(siamese, features, setting) {
      if (split.queries.length === 0) return null;
      const choice = chooseScorer(features, rowOf, ids, split, readHeadWeights(siamese.head), setting);
      const c = choice.calibration;
      // one short line for the choice, one for the measures behind it
      say(`scorer: ${choice.scorer} (${choice.reason})`);
      say(`  on ${choice.questions} held-out photos: share of false pairs above true ones head ${choice.falseAbove.head.toFixed(4)} / cosine ${choice.falseAbove.cosine.toFixed(4)}; top-1 head ${choice.top1.head.toFixed(3)} / cosine ${choice.top1.cosine.toFixed(3)}${c ? `; cosine calibrated as sigmoid(${c.scale.toFixed(2)} cos ${c.bias < 0 ? '-' : '+'} ${Math.abs(c.bias).toFixed(2)})` : ''}`);
      let validation: Record<string, number> | undefined;
      if (choice.scorer === 'cosine' && c) {
        const F = siamese.branch.outputs[0].shape[1] as number;
        last = evaluateValidation(normalizeRows(features, F), rowOf, ids, split, cosineHeadWeights(F, c.scale, c.bias));
        validation = { map5: last.map5, threshold: last.threshold, top1: last.top1, closedTop1: last.closedTop1 };
        say(`cosine scorer: validation MAP@5 ${last.map5.toFixed(4)} (threshold ${last.threshold}), top-1 ${last.top1.toFixed(3)}, closed-set top-1 ${last.closedTop1.toFixed(3)}`);
      }
      await record({ kind: 'scorer', ...choice, ...(validation ? { validation } : {}) });
      return choice;
    },
  };
}
