/**
 * Synthetic learned features clustered by individual, for tests and benchmarks of a large
 * gallery: each individual has a centre and each of its photos is the centre plus noise, clipped
 * at zero as a branch's ReLU output is. Why clustered: recall of a shortlist against exhaustive
 * scoring only means something when a query has near neighbours to find.
 */
import { createRng } from '../util/random.js';

/** Options of {@link clusteredFeatures}. */
export interface ClusteredFeaturesOptions {
  /** Photos in all. */
  photos: number;
  /** Photos per individual (the last may have fewer). */
  perIndividual: number;
  /** Floats per vector. */
  dim: number;
  /** Standard deviation of a photo around its individual's centre; default 0.25. */
  noise?: number;
  /** Seed; default 1. */
  seed?: number;
}

/** Features of a synthetic gallery, photo i (id i + 1) of individual `individualOf[i]`. */
export interface ClusteredFeatures {
  /** photos x dim floats, row-major. */
  readonly matrix: Float32Array;
  /** Each photo's individual (1-based). */
  readonly individualOf: Int32Array;
  /** A fresh photo of an individual (the same noise as the gallery's). */
  sample(individual: number, seed: number): Float32Array;
}

/**
 * Draws a clustered gallery (deterministic for a seed).
 *
 * @param o - photos, photos per individual, dimension, noise, seed
 * @returns the features and each photo's individual
 * @example
 * const { matrix, individualOf } = clusteredFeatures({ photos: 5000, perIndividual: 5, dim: 64 });
 */
export function clusteredFeatures(o: ClusteredFeaturesOptions): ClusteredFeatures {
  const noise = o.noise ?? 0.25;
  const seed = o.seed ?? 1;
  const individuals = Math.ceil(o.photos / o.perIndividual);
  const centre = (ind: number): Float32Array => {
    const rng = createRng(`${seed}:centre:${ind}`);
    return Float32Array.from({ length: o.dim }, () => rng.normal(0.4, 0.6));
  };
  const around = (c: Float32Array, rng: ReturnType<typeof createRng>, out: Float32Array, at: number): void => {
    for (let f = 0; f < o.dim; f++) out[at + f] = Math.max(0, c[f] + rng.normal(0, noise));
  };
  const matrix = new Float32Array(o.photos * o.dim);
  const individualOf = new Int32Array(o.photos);
  const rng = createRng(`${seed}:photos`);
  for (let ind = 1; ind <= individuals; ind++) {
    const c = centre(ind);
    for (let p = (ind - 1) * o.perIndividual; p < Math.min(o.photos, ind * o.perIndividual); p++) {
      individualOf[p] = ind;
      around(c, rng, matrix, p * o.dim);
    }
  }
  return {
    matrix,
    individualOf,
    sample(individual, s) {
      const out = new Float32Array(o.dim);
      around(centre(individual), createRng(`${seed}:sample:${s}`), out, 0);
      return out;
    },
  };
}
