import type { Catalog } from '../catalog/catalog.js';
import type { PhotoRecord } from '../catalog/catalog-types.js';
import { boxKey } from '../catalog/box-key.js';
import { decodeSideFor, type CropSettings } from '../image/crop.js';
import { createImageCache, type ImageCache } from '../image/image-cache.js';
import type { HeadWeights } from '../model/head-weights.js';
import { loadRunModel, trainedWithBoxes } from '../predict/run-model.js';
import { DEFAULT_NEW_WHALE_THRESHOLD } from '../infer/walk.js';
import { createScoreKernel, type ScoreKernel } from '../infer/score-kernel.js';
import { WhaleidError } from '../util/errors.js';
import { hasOnnxExport } from '../model/run-folder.js';

/** One proposed individual for a query photo. */
export interface IndividualCandidate {
  individualId: number;
  name: string;
  /** The best score of any of its photos against the query (the head's probability). */
  score: number;
  /** Its best-matching photos, best first (at most `photosPerCandidate`). */
  photos: { photoId: number; score: number }[];
}

/** The answer for one query photo. */
export interface Identification {
  photoId: number;
  modelVersion: string;
  /** The new-individual threshold of the model (calibrated in its validation). */
  threshold: number;
  /** `new` when no candidate reaches the threshold: probably an individual not in the catalog. */
  suggestion: 'match' | 'new';
  candidates: IndividualCandidate[];
  /** Catalog photos compared. */
  compared: number;
}

/** Matches photos against a catalog with a trained run. */
export interface Identifier {
  readonly modelVersion: string;
  readonly threshold: number;
  readonly crop: CropSettings;
  /** Whether the run learnt boxed crops (then unboxed photos should get the detector's box). */
  readonly trainedWithBoxes: boolean;
  /**
   * Computes and stores the features of every gallery photo that has none for this model.
   * @returns how many were computed
   */
  sync(onProgress?: (done: number, total: number) => void): Promise<number>;
  /** The top individuals for a catalog photo (its features computed and stored when missing). */
  identify(photoId: number, options?: { k?: number; photosPerCandidate?: number }): Promise<Identification>;
  close(): Promise<void>;
}

/**
 * Loads a training run for identification against a catalog. Gallery features are computed once
 * per model version and kept in the catalog and in memory; a query costs one branch pass through
 * ONNX Runtime and one row of the WebAssembly score kernel over the gallery (20,000 photos:
 * 20,000 head evaluations, tens of milliseconds).
 *
 * @param catalog - the open catalog
 * @param runDir - a finished training run with onnx/branch.onnx and onnx/head.onnx
 * @param options - decoded-photo cache folder, ORT threads, warnings (a run without a manifest)
 * @returns the identifier
 * @throws {@link WhaleidError} when the run is unfinished or has no ONNX export
 * @example
 * const id = await createIdentifier(await openCatalog('whales.db'), 'runs/a');
 * await id.sync();
 * const { candidates } = await id.identify(42);
 */
export async function createIdentifier(catalog: Catalog, runDir: string, options: { cacheDir?: string; threads?: number; onWarning?: (line: string) => void } = {}): Promise<Identifier> {
  if (!hasOnnxExport(runDir)) throw new WhaleidError(`${runDir}: no onnx/branch.onnx (train the run to its end, or it predates the ONNX export)`);
  const run = await loadRunModel(runDir, { threads: options.threads, onWarning: options.onWarning });
  const head: HeadWeights = run.inference.head;
  const cache: ImageCache = createImageCache({ dir: options.cacheDir, maxSide: decodeSideFor(run.crop.size), maxPixels: catalog.maxPixels });
  // features stored in the catalog are never mixed between models: retraining or replacing a run gives a new version
  const modelVersion = run.inference.modelVersion;
  const threshold = run.validation?.threshold ?? DEFAULT_NEW_WHALE_THRESHOLD;
  const F = head.features;

  // features in memory by photo and box: a photo whose box changed is computed again
  const features = new Map<string, Float32Array>();
  const keyOf = (photoId: number, boxKey: string): string => `${photoId}|${boxKey}`;
  const boxKeyOf = (p: PhotoRecord): string => boxKey(p.box);
  let gallery: { photoIds: Int32Array; individualIds: Int32Array; kernel: ScoreKernel | null; key: string; revision: string } | null = null;

  const compute = async (photos: PhotoRecord[], onProgress?: (done: number, total: number) => void): Promise<void> => {
    const requests = photos.map((p) => ({ file: catalog.photoFile(p), box: p.box ?? undefined }));
    const out = await run.inference.features(cache, requests, run.crop, onProgress);
    const entries = photos.map((p, i) => ({ photoId: p.id, vector: out.slice(i * F, (i + 1) * F) }));
    await catalog.putFeatures(modelVersion, entries);
    photos.forEach((p, i) => features.set(keyOf(p.id, boxKeyOf(p)), entries[i].vector));
  };
  const featuresOf = async (photo: PhotoRecord): Promise<Float32Array> => {
    const key = keyOf(photo.id, boxKeyOf(photo));
    let f = features.get(key) ?? (await catalog.getFeatures(modelVersion, [photo.id])).get(photo.id);
    if (!f) {
      await compute([photo]);
      f = features.get(key)!;
    }
    return f;
  };
  const sync = async (onProgress?: (done: number, total: number) => void): Promise<number> => {
    const rows = (await catalog.gallery()).filter((r) => !features.has(keyOf(r.photoId, r.boxKey)));
    // the catalog drops a photo's stored features when its box changes, so stored ones are current
    const stored = await catalog.getFeatures(modelVersion, rows.map((r) => r.photoId));
    for (const r of rows) if (stored.has(r.photoId)) features.set(keyOf(r.photoId, r.boxKey), stored.get(r.photoId)!);
    const missing: PhotoRecord[] = [];
    for (const r of rows) if (!stored.has(r.photoId)) missing.push(await catalog.photo(r.photoId));
    for (let i = 0; i < missing.length; i += 256) {
      await compute(missing.slice(i, i + 256), onProgress && ((d) => onProgress(i + d, missing.length)));
    }
    return missing.length;
  };
  const currentGallery = async (): Promise<NonNullable<typeof gallery>> => {
    const revision = await catalog.revision();
    if (gallery && gallery.revision === revision) return gallery; // nothing written since: no query at all
    let rows = await catalog.gallery();
    // the gallery changes with decisions (assignments, merges) and boxes: its rows are its identity
    const key = `${rows.length}|${rows.map((r) => keyOf(r.photoId, r.boxKey) + r.individualId).join(';')}`;
    if (gallery && gallery.key === key) {
      gallery.revision = revision;
      return gallery;
    }
    if (rows.some((r) => !features.has(keyOf(r.photoId, r.boxKey)))) {
      await sync();
      rows = await catalog.gallery();
    }
    const cols = new Float32Array(rows.length * F);
    rows.forEach((r, i) => cols.set(features.get(keyOf(r.photoId, r.boxKey))!, i * F));
    gallery = {
      photoIds: Int32Array.from(rows, (r) => r.photoId),
      individualIds: Int32Array.from(rows, (r) => r.individualId),
      kernel: rows.length ? createScoreKernel(head, cols) : null,
      key,
      // the revision read before the rows: a write since then (this process's or another's) is seen next time
      revision,
    };
    return gallery;
  };

  return {
    modelVersion,
    threshold,
    crop: run.crop,
    trainedWithBoxes: trainedWithBoxes(run.config),
    sync,
    async identify(photoId, o = {}) {
      const k = o.k ?? 5;
      const per = o.photosPerCandidate ?? 3;
      const photo = await catalog.photo(photoId);
      const q = await featuresOf(photo);
      const g = await currentGallery();
      const n = g.photoIds.length;
      const scores = new Float32Array(n);
      g.kernel?.scoreRow(q, 0, n, scores);
      const byIndividual = new Map<number, { photoId: number; score: number }[]>();
      for (let j = 0; j < n; j++) {
        if (g.photoIds[j] === photoId) continue; // a catalog photo is not its own candidate
        const list = byIndividual.get(g.individualIds[j]) ?? [];
        list.push({ photoId: g.photoIds[j], score: scores[j] });
        byIndividual.set(g.individualIds[j], list);
      }
      const ranked = [...byIndividual.entries()].map(([individualId, list]) => {
        list.sort((a, b) => b.score - a.score || a.photoId - b.photoId);
        return { individualId, score: list[0].score, photos: list.slice(0, per) };
      }).sort((a, b) => b.score - a.score || a.individualId - b.individualId).slice(0, k);
      const candidates = [];
      for (const c of ranked) candidates.push({ ...c, name: (await catalog.individual(c.individualId)).name });
      const suggestion = candidates.length && candidates[0].score >= threshold ? 'match' : 'new';
      return { photoId, modelVersion, threshold, suggestion, candidates, compared: n };
    },
    async close() {
      await run.inference.dispose();
    },
  };
}
