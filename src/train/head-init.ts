import * as tf from '@tensorflow/tfjs';
import { loadCropBuffer } from '../image/crop.js';
import { initHeadAsDistance } from '../model/network/head.js';
import type { Siamese } from '../model/network/siamese.js';
import type { TrainingData } from './training-data.js';

/**
 * Starts a new network's head as a distance (see initHeadAsDistance): the scale is the mean
 * |a - b| of the branch's features over pairs of the first training photos (up to 16 pairs),
 * computed with batch statistics as in training, since the stored BatchNorm statistics are still
 * empty. Runs on tfjs before any engine is made, so every engine starts from the same head.
 *
 * @param siamese - a freshly built network (its BatchNorm moving averages take this batch's update)
 * @param data - the prepared data
 * @example
 * if (config.headInit === 'distance') await initHeadFromTrainingPhotos(siamese, data);
 */
export async function initHeadFromTrainingPhotos(siamese: Siamese, data: Pick<TrainingData, 'split' | 'cache' | 'crop' | 'request'>): Promise<void> {
  const train = data.split.train;
  const sample = train.slice(0, Math.min(32, train.length - (train.length % 2)));
  const { size } = data.crop;
  const x = tf.tensor4d(await loadCropBuffer(data.cache, sample.map((i) => data.request(i)), data.crop), [sample.length, size, size, 1]);
  const d = tf.tidy(() => {
    const f = siamese.branch.apply(x, { training: true }) as tf.Tensor;
    const h = sample.length / 2;
    return f.slice([0, 0], [h, -1]).sub(f.slice([h, 0], [h, -1])).abs().mean().dataSync()[0];
  });
  x.dispose();
  initHeadAsDistance(siamese.head, d);
}
