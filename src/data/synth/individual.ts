/**
 * A synthetic individual whale: its fluke outline and its pigmentation, both drawn from one seed,
 * so the same seed always gives the same animal however many others are drawn beside it.
 */
import { createRng } from '../../util/random.js';
import { invalidParameterError } from '../../util/errors.js';
import { drawFlukeShape, type FlukeShape } from './fluke-shape.js';
import { drawPigmentation, type Pigmentation } from './pigmentation.js';

/** One synthetic whale. */
export interface Individual {
  /** Kaggle-style id, `w_` + 7 lowercase hex digits. */
  id: string;
  /** Canonical outline. */
  shape: FlukeShape;
  /** Canonical pattern on that outline. */
  pattern: Pigmentation;
}

/**
 * Draws one individual from a seed.
 *
 * @param seed - integer or string seed; equal seeds give identical animals
 * @param id - the id to carry, `w_` + 7 lowercase hex digits
 * @returns the {@link Individual}
 * @throws {@link WhaleidError} when `id` is not of the `w_xxxxxxx` form
 * @example
 * const whale = drawIndividual('catalog-0:whale:12', 'w_00c0ffe');
 */
export function drawIndividual(seed: number | string, id: string): Individual {
  if (!/^w_[0-9a-f]{7}$/.test(id)) throw invalidParameterError('individual id', 'w_ followed by 7 lowercase hex digits', id);
  const rng = createRng(seed);
  const shape = drawFlukeShape(rng.fork('shape'));
  const pattern = drawPigmentation(rng.fork('pattern'), shape);
  return { id, shape, pattern };
}
