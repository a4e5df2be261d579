/**
 * Reading a tfjs layer's configuration: its application in the graph, its padding as explicit
 * pads, size options as pairs, the BatchNorm axis. Shared by the two readers of the one network
 * definition, the native engine's layer spec (`layer-spec.ts`) and the ONNX exporter
 * (`../onnx/onnx-ops.ts`), so that neither depends on the other.
 */
import * as tf from '@tensorflow/tfjs';
import { WhaleidError } from '../../util/errors.js';

/** One application of a layer inside the model. */
export interface GraphNode {
  readonly layer: tf.layers.Layer;
  readonly inputs: readonly tf.SymbolicTensor[];
  readonly outputs: readonly tf.SymbolicTensor[];
}

/** A layer's `getConfig()`. */
export type Config = Record<string, unknown>;

/**
 * TF 'same' padding along one axis: output ceil(size / stride), the total pad split with the larger
 * half at the end (as tfjs and TF do; ONNX's symmetric-looking pads must be given explicitly).
 *
 * @param size - input size along the axis
 * @param kernel - kernel size
 * @param stride - stride
 * @param dilation - dilation; default 1
 * @returns [pad before, pad after]
 * @example
 * samePads(384, 9, 2); // [3, 4]
 */
export function samePads(size: number, kernel: number, stride: number, dilation = 1): [number, number] {
  const effective = (kernel - 1) * dilation + 1;
  const total = Math.max((Math.ceil(size / stride) - 1) * stride + effective - size, 0);
  const before = Math.floor(total / 2);
  return [before, total - before];
}

/**
 * Explicit ONNX pads of a conv or pool layer.
 *
 * @param layer - the Conv2D / pooling layer (its `padding` is read)
 * @param input - its NHWC input
 * @param kernel - [kh, kw]
 * @param strides - [sh, sw]
 * @param dilation - [dh, dw]
 * @returns [top, left, bottom, right], or null when the input's spatial size is unknown
 * @throws {@link WhaleidError} for a padding mode other than 'same' or 'valid'
 * @example
 * spatialPads(stemConv, image, [9, 9], [2, 2], [1, 1]); // [3, 3, 4, 4] at 384 px
 */
export function spatialPads(layer: tf.layers.Layer, input: tf.SymbolicTensor, kernel: number[], strides: number[], dilation: number[]): number[] | null {
  const padding = (layer.getConfig() as Config).padding as string;
  if (padding === 'valid') return [0, 0, 0, 0];
  if (padding !== 'same') throw new WhaleidError(`Layer ${layer.name} (${layer.getClassName()}): padding ${padding} is not supported (same or valid)`);
  const [, h, w] = input.shape;
  if (h == null || w == null) return null;
  const [top, bottom] = samePads(h, kernel[0], strides[0], dilation[0]);
  const [left, right] = samePads(w, kernel[1], strides[1], dilation[1]);
  return [top, left, bottom, right];
}

/**
 * A tfjs size option (number or pair) as a pair.
 *
 * @param v - `3` or `[3, 3]`
 * @returns the pair
 * @example
 * pair(2); // [2, 2]
 */
export const pair = (v: unknown): number[] => (Array.isArray(v) ? (v as number[]) : [v as number, v as number]);

/**
 * Whether a BatchNorm normalises the last (channel) axis of its input.
 *
 * @param layer - the BatchNormalization layer
 * @param rank - rank of its input, batch included
 * @returns true for axis -1 or rank - 1
 * @example
 * lastAxis(bnLayer, 4); // true for the default axis -1
 */
export function lastAxis(layer: tf.layers.Layer, rank: number): boolean {
  const axis = (layer.getConfig() as Config).axis;
  const a = Array.isArray(axis) ? (axis.length === 1 ? axis[0] : NaN) : axis;
  return a === -1 || a === rank - 1;
}
