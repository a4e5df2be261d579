/**
 * Small pieces shared by the kernels we register with tfjs (conv-grad-kernels.ts,
 * reduce-kernels.ts): kernels are composed of tfjs ops, which need Tensors, not TensorInfos.
 */
import * as tf from '@tensorflow/tfjs';
import { invalidParameterError } from '../../util/errors.js';

/**
 * Wraps a kernel input as a Tensor without taking ownership of its data.
 *
 * @param info - the kernel input
 * @param backend - the backend running the kernel
 * @returns a Tensor over the same data (a new reference, disposed with its scope)
 */
export function asTensor(info: tf.TensorInfo, backend: tf.KernelBackend): tf.Tensor {
  if (info instanceof tf.Tensor) return info;
  backend.incRef(info.dataId);
  return tf.engine().makeTensorFromTensorInfo(info, backend);
}

/**
 * Checks a backend name given to a kernel (un)registration function.
 *
 * @param backendName - the value given
 * @throws {@link WhaleidError} when it is not a non-empty string
 */
export function checkBackendName(backendName: unknown): asserts backendName is string {
  if (typeof backendName !== 'string' || backendName === '') {
    throw invalidParameterError('backendName', 'a tfjs backend name', backendName);
  }
}
