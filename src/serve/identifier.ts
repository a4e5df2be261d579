import type { Catalog } from '../catalog/catalog.js';
import type { PhotoRecord } from '../catalog/catalog-types.js';
import { boxKey } from '../catalog/box-key.js';
import { decodeSideFor } from '../image/crop.js';
import { createImageCache } from '../image/image-cache.js';
import type { DecodedPhoto } from '../image/decode.js';
import { loadRunModel, trainedWithBoxes, type RunModel } from '../predict/run-model.js';
import { newIndividualThreshold } from '../infer/threshold.js';
import { buildScoredGallery, createFeatureCache, type FeatureCache, type ScoredGallery } from '../infer/scored-gallery.js';
import { createGalleryIndex, featureBlockFile, galleryIndexDir, galleryIndexName, type GalleryIndex } from '../infer/gallery-index.js';
import { readFeatureBlock, type FeatureBlock } from '../infer/feature-block.js';
import type { ShortlistRanker } from '../infer/shortlist-ranking.js';
import { WhaleidError } from '../util/errors.js';
import { createShardClient, type ShardClient } from '../jobs/shard-client.js';
import { galleryHash, type ShardRow } from '../jobs/shard-protocol.js';
import { shardOf } from '../infer/score-shards.js';
import { hasOnnxExport } from '../model/folders/run-folder.js';
import { checkFusionModels, type MatchScores } from '../infer/fusion/fusion-model.js';
import { checkModelCount, matcherOf, type MatcherDefinition } from '../infer/matchers/matcher-registry.js';
import { checkCalibrationFor, type MatcherCalibration } from '../infer/matchers/matcher-calibration.js';
import { createLocalGallery, type GalleryPhoto, type LocalGallery } from './local-gallery.js';
import { isOpenScope } from '../data/match-scope.js';
import { photoScope, scopeCache } from '../catalog/photo-scope.js';
import { annotationGalleryId, annotationOfGalleryId } from '../catalog/gallery-ids.js';

import { FeaturesPendingError, type IndividualCandidate, type Identifier, type IdentifierOptions } from './identifier-types.js';
export type { IndividualCandidate, Identification, Identifier, IdentifierOptions } from './identifier-types.js';
export { FeaturesPendingError } from './identifier-types.js';

/**
 * Loads a training run for identification against a catalog. Gallery features are computed once
 * per model version and kept in the catalog and in memory; a query costs one branch pass through
 * ONNX Runtime and one row of the WebAssembly score kernel over the gallery (20,000 photos:
 * 20,000 head evaluations, tens of milliseconds).
 *
 * With `matcher` local or fused, every gallery photo's keypoints and descriptors are stored in the
 * catalog too (described once), kept in one HNSW index that grows as photos join the gallery,
 * and the candidates are ranked as `whaleid predict --matcher` ranks them (matcherRanking), with
 * the threshold (and fusion) of the calibration `evaluate-open --matcher` wrote.
 *
 * @param catalog - the open catalog
 * @param runDir - a finished training run with onnx/branch.onnx and onnx/head.onnx
 * @param options - decoded-photo cache folder, ORT threads, warnings (a run without a manifest), matcher and its calibration, queued features, sharded scoring
 * @returns the identifier
 * @throws {@link WhaleidError} when the run is unfinished or has no ONNX export, or the calibration is for another matcher
 * @example
 * const id = await createIdentifier(await openCatalog('whales.db'), 'runs/a');
 * await id.sync();
 * const { candidates } = await id.identify(42);
 */
export async function createIdentifier(catalog: Catalog, runDir: string, options: IdentifierOptions = {}): Promise<Identifier> {
  const matcher = matcherOf(options.matcher ?? 'siamese');
  const calibration = options.calibration;
  checkModelCount(matcher.kind, 1 + (options.moreModels?.length ?? 0));
  if (calibration) checkCalibrationFor(matcher.kind, calibration);
  const runs = await loadRuns([runDir, ...(options.moreModels ?? [])], options, calibration);
  const [run] = runs;
  // features stored in the catalog are never mixed between models: retraining or replacing a run gives a new version
  const modelVersion = run.inference.modelVersion;
  const threshold = thresholdOrRefusal(matcher, calibration, run);
  const local: LocalGallery | null = matcher.describes.local ? createLocalGallery(catalog, { cacheDir: options.cacheDir }) : null;
  // ranked here by the matcher's own ranking (local features or a fusion), not by the learned score alone
  const ranksHere = local !== null || matcher.calibration.fusion;
  const indexAt = { dir: galleryIndexDir(catalog.photoFiles.dir), ...(options.index || {}), name: galleryIndexName(modelVersion) };
  // with an index, the gallery's vectors start from the block it wrote beside it (one read, not a row per photo)
  const block = options.index === false || ranksHere ? undefined : () => readFeatureBlock(featureBlockFile(indexAt.dir, indexAt.name), run.inference.head.features);
  const learned = runs.map((r, k) => learnedFeatures(catalog, r, options, k === 0 ? block : undefined));
  const indexed = options.index === false || ranksHere ? null : createGalleryIndex(run.inference.head, { ...indexAt, onWarning: options.onWarning });
  const gallery = currentGallery(catalog, learned, runs, options.queued === true, indexed, options.onWarning);
  const shards: ShardClient | null = options.scoring && matcher.sharded ? await createShardClient({ url: options.scoring.url, modelVersion, timeoutMs: options.scoring.timeoutMs }) : null;
  let scoredHere = 0;
  const scopes = scopeCache(catalog);

  const sync = async (onProgress?: (done: number, total: number) => void): Promise<number> => {
    let computed = 0;
    for (const l of learned) computed = Math.max(computed, await l.sync(onProgress));
    if (!local) return computed;
    // local features: read back from the catalog into memory (the index needs them), the missing ones described and stored
    const all = await catalog.gallery();
    const before = local.described;
    for (let i = 0; i < all.length; i += 256) {
      const batch: PhotoRecord[] = [];
      for (const r of all.slice(i, i + 256)) batch.push(await catalog.galleryPhoto(r.photoId));
      await local.featuresOf(batch, onProgress);
    }
    return Math.max(computed, local.described - before);
  };

  return {
    modelVersion,
    matcher: matcher.kind,
    threshold: typeof threshold === 'number' ? threshold : null,
    crop: run.crop,
    trainedWithBoxes: trainedWithBoxes(run.config),
    sync,
    async identify(photoId, o = {}) {
      if (typeof threshold !== 'number') throw threshold;
      const limit = threshold;
      const k = o.k ?? 5;
      const per = o.photosPerCandidate ?? 3;
      const photo = await catalog.photo(photoId);
      // one animal of the photo: its first annotation is the photo; a further one is cropped from its
      // own box and is its own gallery row (gallery-ids.ts), the only row it is not a candidate to:
      // the photo's other animals stay candidates (another individual of the same photo may well be in the catalog)
      const note = o.annotation === undefined ? undefined : await catalog.annotation(photoId, o.annotation);
      const query = note && note.ordinal > 0 ? await catalog.galleryPhoto(annotationGalleryId(note.id)) : photo;
      // scoped matching: the same species, a compatible viewpoint, and what was asked (refused before any feature is computed)
      const scope = await photoScope(catalog, photo, o.scope ?? {}, note);
      const allowed = isOpenScope(scope) ? undefined : await scopes(scope);
      // the upload's decode is at the first model's reduction: the others decode for themselves
      const queries: Float32Array[] = [];
      for (const [k, l] of learned.entries()) queries.push(await l.featuresOf(query, k === 0 && query === photo ? o.decoded : undefined));
      const [q] = queries;
      const g = await gallery.current(() => sync());
      const n = g.scored.rows.length;
      // a catalog photo is not its own candidate
      const rank = { k, photosPerCandidate: per, excludePhotoId: query.id, ...(allowed ? { allowed } : {}) };
      let top: Omit<IndividualCandidate, 'name'>[];
      if (!ranksHere) {
        // a large gallery: its index's shortlist, scored here; else the workers' shards when they answer, else the whole gallery here
        // the index's shortlist is of the whole gallery: a scoped query is scored on its scope's photos instead
        let ranked = g.ranker && !allowed ? g.ranker.rank(q, rank) : null;
        if (ranked) scoredHere++;
        else ranked = n && shards ? await shards.query({ features: q, ...rank, scope: allowed ? scope : null, hashes: (count) => gallery.shardHashes(g, count) }) : null;
        if (!ranked) {
          scoredHere++;
          ranked = g.scored.rank(q, rank);
        }
        top = ranked.map((c) => ({ ...c, siamese: c.score }));
      } else {
        scoredHere++;
        const galleries = [g.scored, ...g.others];
        top = (await rankHere(matcher, calibration, local, query, galleries, galleries.map((gal, k) => gal.score(queries[k])), allowed)).sort((a, b) => b.score - a.score || a.individualId - b.individualId).slice(0, k);
      }
      const candidates = [];
      for (const c of top) candidates.push({ ...c, photos: await shownPhotos(catalog, c.photos.slice(0, per)), name: (await catalog.individual(c.individualId)).name });
      const suggestion = candidates.length && candidates[0].score >= limit ? 'match' : 'new';
      const compared = allowed ? inScopeCount(g.scored.photoIds, allowed) : n;
      return { photoId, modelVersion, matcher: matcher.kind, threshold: limit, suggestion, candidates, compared, scope, ...(note ? { annotationId: note.id } : {}) };
    },
    scoringStats: () => (shards ? { ...shards.stats, workers: shards.liveWorkers().length, local: scoredHere } : null),
    async close() {
      await indexed?.close();
      await shards?.close();
      for (const r of runs) await r.inference.dispose();
    },
  };
}

/** The runs (or imported models) of an identifier, each with its ONNX export; none left open when one fails. */
async function loadRuns(dirs: readonly string[], options: IdentifierOptions, calibration: MatcherCalibration | undefined): Promise<RunModel[]> {
  for (const dir of dirs) if (!hasOnnxExport(dir)) throw new WhaleidError(`${dir}: no onnx/branch.onnx (train the run to its end, or it predates the ONNX export)`);
  const runs: RunModel[] = [];
  try {
    for (const dir of dirs) runs.push(await loadRunModel(dir, { threads: options.threads, precision: options.precision, onWarning: options.onWarning }));
    if (calibration?.fusion) checkFusionModels(calibration.fusion, runs.map((r) => r.inference.modelVersion), 'the matcher calibration');
  } catch (e) {
    for (const r of runs) await r.inference.dispose();
    throw e;
  }
  return runs;
}

/**
 * The new-individual threshold (the one rule, newIndividualThreshold), or the refusal to give when
 * asked to identify: a matcher without a threshold to go by still computes the catalog's features.
 */
function thresholdOrRefusal(matcher: MatcherDefinition, calibration: MatcherCalibration | undefined, run: RunModel): number | WhaleidError {
  try {
    return newIndividualThreshold({ kind: matcher.kind, ...matcher.calibration }, { calibration, validation: run.validation }).threshold;
  } catch (e) {
    if (!(e instanceof WhaleidError)) throw e;
    return e;
  }
}

/** How many of the gallery's photos a scope allows (what a scoped answer says it compared). */
function inScopeCount(photoIds: Iterable<number>, allowed: ReadonlySet<number>): number {
  let n = 0;
  for (const id of photoIds) if (allowed.has(id)) n++;
  return n;
}

/**
 * Gallery rows' photos as a client shows them: a further annotation's gallery id (gallery-ids.ts)
 * becomes its photo's id, with the annotation's.
 */
async function shownPhotos(catalog: Catalog, photos: readonly { photoId: number; score: number }[]): Promise<{ photoId: number; score: number; annotationId?: number }[]> {
  const out = [];
  for (const p of photos) {
    const annotationId = annotationOfGalleryId(p.photoId);
    out.push(annotationId === null ? p : { ...p, photoId: (await catalog.annotationById(annotationId)).photoId, annotationId });
  }
  return out;
}

/** The learned features of catalog photos: held in memory, read from the catalog, or computed here. */
interface LearnedFeatures {
  readonly cache: FeatureCache;
  /** A photo's features: held, stored, or computed now (queued: a {@link FeaturesPendingError} until a worker has them). */
  featuresOf(photo: PhotoRecord, decoded?: DecodedPhoto): Promise<Float32Array>;
  /** Reads or computes (not queued) the features of every gallery photo; returns how many were computed. */
  sync(onProgress?: (done: number, total: number) => void): Promise<number>;
}

/**
 * The learned features of a catalog's photos for one run: a photo whose box changed is computed
 * again; with a job queue (`queued`) nothing is computed here, the workers extract them.
 */
function learnedFeatures(catalog: Catalog, run: RunModel, options: Pick<IdentifierOptions, 'cacheDir' | 'queued'>, block?: () => FeatureBlock | null): LearnedFeatures {
  const modelVersion = run.inference.modelVersion;
  const F = run.inference.head.features;
  const images = createImageCache({ dir: options.cacheDir, maxSide: decodeSideFor(run.crop.size), maxPixels: catalog.maxPixels });
  const cache = createFeatureCache(catalog, modelVersion, { block });
  const rowOf = (p: PhotoRecord): { photoId: number; boxKey: string } => ({ photoId: p.id, boxKey: boxKey(p.box) });
  const compute = async (photos: PhotoRecord[], onProgress?: (done: number, total: number) => void, decoded?: DecodedPhoto): Promise<void> => {
    const requests = photos.map((p) => ({ file: catalog.photoFile(p), box: p.box ?? undefined }));
    const out = await run.inference.features(decoded ? images.withDecoded(requests[0].file, decoded) : images, requests, run.crop, onProgress);
    const entries = photos.map((p, i) => ({ photoId: p.id, vector: out.slice(i * F, (i + 1) * F) }));
    await catalog.putFeatures(modelVersion, entries);
    photos.forEach((p, i) => cache.set(rowOf(p), entries[i].vector));
  };
  return {
    cache,
    async featuresOf(photo, decoded) {
      const row = rowOf(photo);
      if (!cache.get(row)) await cache.load([row]);
      const held = cache.get(row);
      if (held) return held;
      // workers extract photos' features; a further annotation's (asked for by id) are computed here
      if (options.queued && annotationOfGalleryId(photo.id) === null) throw new FeaturesPendingError(`photo ${photo.id}: being processed (its features are not extracted yet; its candidates come when a worker has them)`);
      await compute([photo], undefined, decoded);
      return cache.get(row)!;
    },
    async sync(onProgress) {
      const absent = await cache.load(await catalog.gallery());
      if (options.queued) return 0;
      const missing: PhotoRecord[] = [];
      for (const r of absent) missing.push(await catalog.galleryPhoto(r.photoId));
      for (let i = 0; i < missing.length; i += 256) await compute(missing.slice(i, i + 256), onProgress && ((d) => onProgress(i + d, missing.length)));
      return missing.length;
    },
  };
}

/** The gallery the service scores against, as of a catalog revision. */
interface GalleryState {
  /** The first learned model's gallery. */
  scored: ScoredGallery<GalleryPhoto>;
  /** The other learned models' galleries of the same rows (several models fused). */
  others: ScoredGallery<GalleryPhoto>[];
  /** Ranks through the feature index (a gallery of at least the index's threshold), else null. */
  ranker: ShortlistRanker | null;
  /** Its rows as text: the gallery changes with decisions, merges, boxes and (queued) extracted features. */
  key: string;
  revision: string;
  /** Shard hashes per shard count. */
  hashes: Map<number, string[]>;
}

/**
 * The service's current gallery: rebuilt only when the catalog's revision moved and its rows
 * changed; queued, the photos whose features a worker extracted (the others join when they are in).
 */
function currentGallery(catalog: Catalog, learned: readonly LearnedFeatures[], runs: readonly RunModel[], queued: boolean, indexed: GalleryIndex | null, onWarning?: (line: string) => void): { current(sync: () => Promise<unknown>): Promise<GalleryState>; shardHashes(g: GalleryState, count: number): string[] } {
  let state: GalleryState | null = null;
  const rowKey = (r: GalleryPhoto): string => `${r.photoId}|${r.boxKey}${r.individualId}`;
  return {
    async current(sync) {
      const revision = await catalog.revision();
      if (state && state.revision === revision) return state; // nothing written since: no query at all
      let rows = await catalog.gallery();
      // a photo joins the gallery with the features of every model
      const held = (r: GalleryPhoto): boolean => learned.every((l) => l.cache.get(r) !== undefined);
      if (queued) {
        for (const l of learned) await l.cache.load(rows);
        rows = rows.filter(held);
      }
      const key = `${rows.length}|${rows.map(rowKey).join(';')}`;
      if (state && state.key === key) {
        state.revision = revision;
        return state;
      }
      if (!queued && rows.some((r) => !held(r))) {
        await sync();
        rows = await catalog.gallery();
      }
      // the revision read before the rows: a write since then (this process's or another's) is seen next time
      const [scored, ...others] = runs.map((r, k) => buildScoredGallery(rows, learned[k].cache, r.inference.head));
      // an index that fails (hnswlib refusing a vector, a full disk) costs speed, never an answer: exhaustive then
      const ranker = indexed ? await indexed.rankerFor(scored).catch((e: Error) => (onWarning?.(`feature index: ${e.message}; ranking exhaustively`), null)) : null;
      state = { scored, others, ranker, key, revision, hashes: new Map() };
      return state;
    },
    /** The gallery's rows split into `count` shards by individual, hashed (once per gallery and count). */
    shardHashes(g, count) {
      let hashes = g.hashes.get(count);
      if (!hashes) {
        const parts: ShardRow[][] = Array.from({ length: count }, () => []);
        for (const r of g.scored.rows) parts[shardOf(r.individualId, count)].push(r);
        hashes = parts.map(galleryHash);
        g.hashes.set(count, hashes);
      }
      return hashes;
    },
  };
}

/**
 * Ranks the individuals by a matcher not ranked by the learned score alone (local features, or a
 * fusion), as `predict --matcher` does: per individual each learned model's best photo and (with
 * local features) the local match, through the matcher's ranking.
 */
async function rankHere(matcher: MatcherDefinition, calibration: MatcherCalibration | undefined, local: LocalGallery | null, photo: PhotoRecord, galleries: readonly ScoredGallery<GalleryPhoto>[], scores: readonly Float32Array[], allowed?: ReadonlySet<number>): Promise<Omit<IndividualCandidate, 'name'>[]> {
  const g = galleries[0];
  const individualIds = [...new Set(g.rows.map((r) => r.individualId))];
  const number = new Map(individualIds.map((id, i) => [id, i]));
  // each model's best photo per individual; the first model's photos, best first, are the ones shown
  const byIndividual = new Map<number, { photoId: number; score: number }[]>();
  const best = scores.map(() => new Float64Array(individualIds.length).fill(-Infinity));
  for (let j = 0; j < g.rows.length; j++) {
    if (g.photoIds[j] === photo.id || (allowed && !allowed.has(g.photoIds[j]))) continue;
    const i = number.get(g.individualIds[j])!;
    scores.forEach((m, k) => (best[k][i] = Math.max(best[k][i], m[j])));
    const list = byIndividual.get(g.individualIds[j]) ?? [];
    list.push({ photoId: g.photoIds[j], score: scores[0][j] });
    byIndividual.set(g.individualIds[j], list);
  }
  for (const b of best) for (let i = 0; i < b.length; i++) if (b[i] === -Infinity) b[i] = 0;
  for (const list of byIndividual.values()) list.sort((a, b) => b.score - a.score || a.photoId - b.photoId);
  const [siamese, ...learned] = best;
  const n = individualIds.length;
  const found = local ? await local.match((await local.featuresOf([photo]))[0], g.rows, individualIds, photo.id, allowed) : null;
  const s: MatchScores = { siamese, ...(learned.length ? { learned } : {}), local: found?.match.verified ?? new Float64Array(n), localRaw: found?.match.raw ?? new Float64Array(n) };
  const { score, fused } = matcher.rank(s, calibration?.fusion);
  return individualIds.flatMap((individualId, i) => {
    const list = byIndividual.get(individualId);
    if (!list) return []; // its only photo is the query
    const shown = found && found.match.bestPhoto[i] >= 0 ? found.photoIdOf(found.match.bestPhoto[i]) : -1;
    const photos = shown >= 0 ? [...list.filter((p) => p.photoId === shown), ...list.filter((p) => p.photoId !== shown)] : list;
    return [{
      individualId, score: score[i], siamese: siamese[i],
      ...(learned.length ? { learned: learned.map((v) => v[i]) } : {}),
      ...(found ? { local: s.local[i], inliers: found.match.inliers[i] } : {}),
      ...(fused ? { fused: fused[i] } : {}),
      photos,
    }];
  });
}
