import { createRequire } from 'node:module';

/**
 * The few OpenCV (opencv.js, the official wasm build republished as `@techstark/opencv-js`) calls
 * the local-feature matcher makes, typed narrowly. Why opencv.js: it ships AKAZE (detector and
 * descriptor, with KAZE's 64-float descriptor as an option) and RANSAC model fitting in one
 * registry package, no native build and nothing downloaded; it lacks SIFT and
 * estimateAffinePartial2D (checked on 4.12), so the matcher uses AKAZE and estimateAffine2D.
 */
export interface Cv {
  Mat: new (rows?: number, cols?: number, type?: number) => CvMat;
  matFromArray(rows: number, cols: number, type: number, data: ArrayLike<number>): CvMat;
  KeyPointVector: new () => CvKeyPointVector;
  AKAZE: new () => CvAkaze;
  estimateAffine2D(from: CvMat, to: CvMat, inliers: CvMat, method: number, reprojThreshold: number, maxIters: number, confidence: number, refineIters: number): CvMat;
  CV_8UC1: number;
  CV_32FC2: number;
  RANSAC: number;
  /**
   * Enum values as embind objects: setters take these, not the plain numbers `cv.AKAZE_DESCRIPTOR_*`
   * (a number leaves the field undefined, and detection then fails an assertion).
   */
  AKAZE_DescriptorType: { DESCRIPTOR_KAZE: CvEnum; DESCRIPTOR_KAZE_UPRIGHT: CvEnum };
  exceptionFromPtr?(ptr: number): { msg: string };
}

/**
 * The message of an exception OpenCV threw: C++ exceptions reach JavaScript as a bare number
 * (a pointer), which `exceptionFromPtr` turns into cv::Exception's text.
 *
 * @param cv - the OpenCV module
 * @param err - what was caught
 * @returns an Error with OpenCV's message (or `err` itself when it is already an Error)
 */
export function openCvError(cv: Cv, err: unknown): Error {
  if (typeof err === 'number' && typeof cv.exceptionFromPtr === 'function') return new Error(`OpenCV: ${cv.exceptionFromPtr(err).msg}`);
  return err instanceof Error ? err : new Error(String(err));
}

/** An OpenCV matrix; must be freed with `delete()` (wasm heap). */
export interface CvMat {
  rows: number;
  cols: number;
  data: Uint8Array;
  data32F: Float32Array;
  data64F: Float64Array;
  empty(): boolean;
  delete(): void;
}

/** An embind enum value. */
export interface CvEnum {
  value: number;
}

/** A keypoint as opencv.js returns it. */
export interface CvKeyPoint {
  pt: { x: number; y: number };
  size: number;
  angle: number;
  response: number;
  octave: number;
}

export interface CvKeyPointVector {
  size(): number;
  get(i: number): CvKeyPoint;
  delete(): void;
}

export interface CvAkaze {
  setDescriptorType(type: CvEnum): void;
  setThreshold(threshold: number): void;
  setNOctaves(n: number): void;
  setNOctaveLayers(n: number): void;
  detectAndCompute(image: CvMat, mask: CvMat, keypoints: CvKeyPointVector, descriptors: CvMat, useProvided: boolean): void;
  delete(): void;
}

let loading: Promise<{ cv: Cv }> | null = null;

/**
 * The OpenCV module, started once per process (about 0.4 s: the wasm module is compiled on the
 * first call; later calls share it).
 *
 * @returns the module
 * @example
 * const cv = await loadOpenCv();
 * const m = new cv.Mat();
 * m.delete();
 */
export async function loadOpenCv(): Promise<Cv> {
  // The module is a thenable (Emscripten's `then`, which resolves with the module itself):
  // returning it from a promise would adopt it forever, so it travels wrapped in an object until
  // it is ready, and then loses its `then`, as Emscripten's issue 5820 advises.
  loading ??= new Promise<{ cv: Cv }>((resolve, reject) => {
    // opencv.js is a UMD bundle: required, it returns the Emscripten module, ready once
    // onRuntimeInitialized has fired (`calledRun` tells whether it already did)
    const require = createRequire(import.meta.url);
    // its Node start-up adds process-wide handlers (uncaught exceptions rethrown, unhandled
    // rejections abort the wasm runtime): they would change how every error of ours ends, so they go
    const before = new Set([...process.listeners('uncaughtException'), ...process.listeners('unhandledRejection')]);
    const mod = require('@techstark/opencv-js') as Cv & { onRuntimeInitialized?: () => void; calledRun?: boolean };
    for (const l of process.listeners('uncaughtException')) if (!before.has(l)) process.removeListener('uncaughtException', l);
    for (const l of process.listeners('unhandledRejection')) if (!before.has(l)) process.removeListener('unhandledRejection', l);
    const ready = (): void => {
      delete (mod as { then?: unknown }).then;
      resolve({ cv: mod });
    };
    if (mod.calledRun) {
      ready();
      return;
    }
    const timer = setTimeout(() => reject(new Error('opencv.js did not start within 60 s')), 60_000);
    timer.unref();
    mod.onRuntimeInitialized = () => {
      clearTimeout(timer);
      ready();
    };
  });
  return (await loading).cv;
}
