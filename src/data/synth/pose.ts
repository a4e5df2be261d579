/**
 * Camera pose of a fluke in one photo: a slight bend of the lobes, then a homography (perspective,
 * anisotropic scale, shear, rotation, translation) from canonical fluke coordinates to pixels.
 * Every point list of an individual goes through the same mapping, so outline, pattern and scars
 * stay glued together from photo to photo.
 */

/** Per-photo pose parameters. */
export interface PoseParams {
  /** Lobe bend: y += droop * x^2 in canonical units (positive = tips lowered). */
  droop: number;
  /** Perspective terms of the homography's last row (canonical units), small: |p| < 0.2. */
  perspectiveX: number;
  perspectiveY: number;
  /** Pixels per canonical unit along x and y. */
  scaleX: number;
  scaleY: number;
  /** Shear factor (x += shear * y before rotation). */
  shear: number;
  /** Rotation in radians (positive = clockwise on screen, since y points down). */
  rotation: number;
  /** Translation in pixels. */
  tx: number;
  ty: number;
}

/** A pose ready to apply: the bend plus a row-major 3x3 homography. */
export interface Pose {
  droop: number;
  /** Row-major 3x3 matrix mapping (x, y, 1) canonical to homogeneous pixels. */
  matrix: Float64Array;
  /** Mean pixels per canonical unit (for stroke widths). */
  lineScale: number;
}

function multiply(a: Float64Array, b: Float64Array): Float64Array {
  const out = new Float64Array(9);
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 3; c++) {
      out[r * 3 + c] = a[r * 3] * b[c] + a[r * 3 + 1] * b[3 + c] + a[r * 3 + 2] * b[6 + c];
    }
  }
  return out;
}

/**
 * Builds the pose: H = T(tx, ty) * R(rotation) * Shear * S(scaleX, scaleY) * P(perspective).
 *
 * @param p - the parameters
 * @returns the {@link Pose}
 * @example
 * const pose = makePose({ droop: 0, perspectiveX: 0, perspectiveY: 0, scaleX: 100, scaleY: 100,
 *   shear: 0, rotation: 0, tx: 320, ty: 200 });
 * applyPose(pose, Float64Array.of(1, 0)); // Float64Array [420, 200]
 */
export function makePose(p: PoseParams): Pose {
  const persp = Float64Array.of(1, 0, 0, 0, 1, 0, p.perspectiveX, p.perspectiveY, 1);
  const scale = Float64Array.of(p.scaleX, 0, 0, 0, p.scaleY, 0, 0, 0, 1);
  const shear = Float64Array.of(1, p.shear, 0, 0, 1, 0, 0, 0, 1);
  const c = Math.cos(p.rotation);
  const s = Math.sin(p.rotation);
  const rot = Float64Array.of(c, -s, 0, s, c, 0, 0, 0, 1);
  const shift = Float64Array.of(1, 0, p.tx, 0, 1, p.ty, 0, 0, 1);
  const matrix = multiply(shift, multiply(rot, multiply(shear, multiply(scale, persp))));
  return { droop: p.droop, matrix, lineScale: Math.sqrt(Math.abs(p.scaleX * p.scaleY)) };
}

/**
 * Returns the same pose moved by (dx, dy) pixels.
 *
 * @param pose - the pose
 * @param dx - shift in x
 * @param dy - shift in y
 * @returns a new {@link Pose}
 * @example
 * const moved = translatePose(pose, 10, -5);
 */
export function translatePose(pose: Pose, dx: number, dy: number): Pose {
  const shift = Float64Array.of(1, 0, dx, 0, 1, dy, 0, 0, 1);
  return { droop: pose.droop, matrix: multiply(shift, pose.matrix), lineScale: pose.lineScale };
}

/**
 * Returns the same pose scaled about the pixel origin by `factor`.
 *
 * @param pose - the pose
 * @param factor - scale factor (> 0)
 * @returns a new {@link Pose}
 * @example
 * const bigger = scalePose(pose, 1.5);
 */
export function scalePose(pose: Pose, factor: number): Pose {
  const s = Float64Array.of(factor, 0, 0, 0, factor, 0, 0, 0, 1);
  return { droop: pose.droop, matrix: multiply(s, pose.matrix), lineScale: pose.lineScale * factor };
}

/**
 * Maps canonical points (x, y interleaved) to pixels.
 *
 * @param pose - the pose
 * @param points - canonical points
 * @returns new array of pixel coordinates, same layout
 * @example
 * const px = applyPose(pose, shape.outline);
 */
export function applyPose(pose: Pose, points: Float64Array): Float64Array {
  const m = pose.matrix;
  const out = new Float64Array(points.length);
  for (let i = 0; i < points.length; i += 2) {
    const x = points[i];
    // The bend is limited to the lobes' span so that the stock below stays straight.
    const y = points[i + 1] + pose.droop * Math.min(1, x * x);
    const w = m[6] * x + m[7] * y + m[8];
    out[i] = (m[0] * x + m[1] * y + m[2]) / w;
    out[i + 1] = (m[3] * x + m[4] * y + m[5]) / w;
  }
  return out;
}
