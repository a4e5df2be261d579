/**
 * The identifier's public shapes: what a query returns and what the identifier offers, apart from
 * its implementation (identifier.ts), so that routes, the service context and tests read the
 * contract without the scoring machinery.
 */
import type { CropSettings } from '../image/crop.js';
import type { GalleryIndexOptions } from '../infer/gallery-index.js';
import type { MatcherKind } from '../infer/matchers/matcher-registry.js';
import type { MatcherCalibration } from '../infer/matchers/matcher-calibration.js';
import type { Precision } from '../infer/int8-branch.js';
import type { ShardStats } from '../jobs/shard-client.js';
import type { MatchScope, ScopeRequest } from '../data/match-scope.js';
import type { DecodedPhoto } from '../image/decode.js';
import { WhaleidError } from '../util/errors.js';

/** One proposed individual for a query photo. */
export interface IndividualCandidate {
  individualId: number;
  name: string;
  /** The score the service ranks by: the matcher's (siamese: the head's probability for its best photo). */
  score: number;
  /** The Siamese score: the head's probability for its best photo (the first learned model's). */
  siamese: number;
  /** The other learned models' scores of their best photo, in `--model` order (several models fused). */
  learned?: number[];
  /** The local matcher's score: LNBNN weight of the keypoints one affine map verifies (local and fused matchers). */
  local?: number;
  /** Keypoints of its best verified photo that agree with the query (local and fused matchers; 0: none verified). */
  inliers?: number;
  /** The fused score: the calibrated probability that it is the query's individual (fused matcher). */
  fused?: number;
  /**
   * Its best-matching photos, best first (at most `photosPerCandidate`), each with its Siamese
   * score; with the local matcher its best verified photo comes first. `annotationId`: the
   * photo's further annotation (not its first) that matched.
   */
  photos: { photoId: number; score: number; annotationId?: number }[];
}

/** The answer for one query photo. */
export interface Identification {
  photoId: number;
  modelVersion: string;
  /** The matcher that ranked the candidates (its score is each candidate's `score`). */
  matcher: MatcherKind;
  /** The new-individual threshold of the model (calibrated in its validation). */
  threshold: number;
  /** `new` when no candidate reaches the threshold: probably an individual not in the catalog. */
  suggestion: 'match' | 'new';
  candidates: IndividualCandidate[];
  /** Catalog photos compared: those in the scope. */
  compared: number;
  /** The scope the candidates were drawn from (match-scope.ts): the query's species and viewpoint, and what was asked. */
  scope: MatchScope;
  /** The annotation identified, when one was asked for (`identify(photoId, { annotation })`). */
  annotationId?: number;
}

/** Matches photos against a catalog with a trained run. */
export interface Identifier {
  readonly modelVersion: string;
  /** Which score ranks the candidates: the network's, the local features', or both fused. */
  readonly matcher: MatcherKind;
  /**
   * The new-individual threshold on the matcher's score (the one rule: newIndividualThreshold);
   * null for a matcher given no calibration, which can compute the catalog's features but not identify.
   */
  readonly threshold: number | null;
  readonly crop: CropSettings;
  /** Whether the run learnt boxed crops (then unboxed photos should get the detector's box). */
  readonly trainedWithBoxes: boolean;
  /**
   * Computes and stores the features of every gallery photo that has none for this model (and,
   * for the local and fused matchers, its local features).
   * @returns how many photos' features were computed
   */
  sync(onProgress?: (done: number, total: number) => void): Promise<number>;
  /**
   * The top individuals for a catalog photo (its features computed and stored when missing, or,
   * with `queued`, a {@link FeaturesPendingError} until a worker has extracted them). `decoded`:
   * the photo decoded already (an upload's one decode), so computing its features decodes nothing.
   */
  identify(photoId: number, options?: { k?: number; photosPerCandidate?: number; decoded?: DecodedPhoto; scope?: ScopeRequest; annotation?: number }): Promise<Identification>;
  /** Sharded scoring: live workers and how queries were scored (null without `scoring`). */
  scoringStats(): (ShardStats & { workers: number; local: number }) | null;
  close(): Promise<void>;
}

/** A photo whose features a worker has not extracted yet (a queued catalog). */
export class FeaturesPendingError extends WhaleidError {}

/** Options of {@link createIdentifier}. */
export interface IdentifierOptions {
  /** Decoded-photo cache folder. */
  cacheDir?: string;
  /** ONNX Runtime threads. */
  threads?: number;
  /** The branch's precision (float32 by default; int8 needs the run's onnx/branch.int8.onnx). */
  precision?: Precision;
  /** Warnings (a run without a manifest). */
  onWarning?: (line: string) => void;
  /** Which score ranks the candidates; default siamese. */
  matcher?: MatcherKind;
  /**
   * The other learned models (runs or imported model folders: the second `--model` on), fused
   * with `runDir`'s by the matchers that fuse several (fused, fused-learned). Their features are
   * stored in the catalog per model version, as the first's.
   */
  moreModels?: readonly string[];
  /**
   * What `evaluate-open --matcher` calibrated (readMatcherCalibration): the threshold on the
   * matcher's score and, for fused, the fusion. Needed to identify with local or fused (not to
   * compute the catalog's features); with siamese it replaces the run's threshold.
   */
  calibration?: MatcherCalibration;
  /**
   * Features come from the job queue's workers: never extracted here; the gallery holds the photos
   * whose features are in, and a query photo without them is being processed.
   */
  queued?: boolean;
  /** Sharded scoring through the catalog's PostgreSQL (`whaleid worker` processes, the Siamese matcher); without a live worker queries are scored here. */
  scoring?: { url: string; timeoutMs?: number } | null;
  /**
   * The feature index of a large gallery (the Siamese matcher): from `threshold` photos (default
   * 50,000) a query is ranked through a shortlist of the index, scored exactly; below, against
   * every photo. Saved in `dir` (default: `<photo folder>.index`, beside the catalog's photos);
   * false: always exhaustive.
   */
  index?: Partial<Omit<GalleryIndexOptions, 'name' | 'onWarning'>> | false;
}
