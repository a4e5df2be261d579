/**
 * One photo of one individual as a scene description in pixel coordinates: frame size, camera
 * pose, background, the visible fluke with its marks, water effects and the post-processing.
 * Drawing a scene is pure (no I/O); scene-svg.ts turns it into SVG and render.ts into a JPEG.
 */
import type { Rng } from '../../util/random.js';
import type { Individual } from './individual.js';
import type { MarkTone } from './pigmentation.js';
import { blob } from './pigmentation.js';
import { curveAt } from './fluke-shape.js';
import { applyPose, makePose, scalePose, translatePose, type Pose } from './pose.js';
import { drawBackground } from './sea.js';
import { clampByte, jitter, mix, type Paint, type PhotoEffects, type PhotoScene, type Rgb } from './scene-types.js';
import { clipAboveWater, drawWaterEffects, makeWaterSurface, type WaterSurface } from './water-effects.js';

/** Continuous bounding box of a polygon, or null when it has no points. */
function polygonBox(poly: Float64Array): [number, number, number, number] | null {
  if (poly.length < 2) return null;
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (let i = 0; i < poly.length; i += 2) {
    const x = poly[i];
    const y = poly[i + 1];
    if (x < x0) x0 = x;
    if (x > x1) x1 = x;
    if (y < y0) y0 = y;
    if (y > y1) y1 = y;
  }
  return [x0, y0, x1, y1];
}

/**
 * Draws one photo scene of an individual.
 *
 * Frame: 500-900 px wide, height 0.5-0.75 of that. Pose: camera roll up to 4 degrees plus the
 * fluke's own tilt (together within about 15 degrees), anisotropic scale, shear up to 0.15 and a
 * slight perspective; the visible fluke spans 30-80% of the frame width (less when the height
 * would not fit it). The box is the part of the outline above the water surface, clamped to the
 * frame: splashes and streaming water that hide parts of the fluke do not shrink it.
 *
 * @param individual - the whale
 * @param rng - this photo's generator (consumed)
 * @returns the {@link PhotoScene}
 * @example
 * const scene = drawPhotoScene(drawIndividual(3, 'w_0000003'), createRng(3).fork('photo:0'));
 */
export function drawPhotoScene(individual: Individual, rng: Rng): PhotoScene {
  const { shape } = individual;
  const width = Math.round(rng.uniform(500, 900));
  const height = Math.round(width * rng.uniform(0.5, 0.75));
  const roll = (rng.uniform(-4, 4) * Math.PI) / 180;
  const slope = Math.tan(roll);
  const tilt = (Math.max(-11, Math.min(11, rng.normal(0, 5))) * Math.PI) / 180;
  const base = rng.uniform(0.8, 1.2);
  let pose: Pose = makePose({
    droop: rng.uniform(-0.06, 0.1),
    perspectiveX: rng.uniform(-0.15, 0.15),
    perspectiveY: rng.uniform(-0.05, 0.05),
    scaleX: base,
    scaleY: base * rng.uniform(0.72, 1.15),
    shear: rng.uniform(-0.15, 0.15),
    rotation: roll + tilt,
    tx: 0,
    ty: 0,
  });
  const waterDepth = shape.stockJoinY + rng.uniform(-0.03, 0.45);
  const surfaceRng = rng.fork('surface');
  const surfaceAt = (p: Pose): WaterSurface => {
    const s = applyPose(p, Float64Array.of(0, waterDepth));
    return makeWaterSurface(surfaceRng.fork('w'), s[0], s[1], slope, width);
  };
  const visibleBox = (p: Pose): [number, number, number, number] => polygonBox(clipAboveWater(applyPose(p, shape.outline), surfaceAt(p))) ?? [0, 0, 1, 1];
  // Size the fluke: the visible span is a drawn share of the frame width, and must fit in height.
  let box = visibleBox(pose);
  let factor = (rng.uniform(0.3, 0.8) * width) / (box[2] - box[0]);
  factor = Math.min(factor, (0.85 * height) / Math.max(1e-9, box[3] - box[1]));
  pose = scalePose(pose, factor);
  box = visibleBox(pose);
  const margin = 0.02 * width;
  const tx = rng.uniform(margin - box[0], width - margin - box[2]);
  const ty = rng.uniform(Math.max(margin, 0.05 * height) - box[1], height - margin - box[3]);
  pose = translatePose(pose, tx, ty);
  const water = surfaceAt(pose);
  const outline = clipAboveWater(applyPose(pose, shape.outline), water);
  const raw = polygonBox(outline) ?? [0, 0, 1, 1];
  const flukeWidth = raw[2] - raw[0];

  // Horizon: often above the fluke, sometimes behind it, sometimes out of frame (camera looking down).
  const stockY = applyPose(pose, Float64Array.of(0, waterDepth))[1];
  const horizonMid = rng.chance(0.3)
    ? rng.uniform(-0.5, -0.05) * height
    : rng.uniform(0.04 * height, Math.max(0.05 * height, Math.min(0.6 * height, stockY - 0.1 * height)));
  const background = drawBackground(rng.fork('sea'), width, height, horizonMid, slope);

  const lighting = rng.uniform(0.8, 1.08);
  const whiteTone = mix(jitter(rng, [232, 236, 240], 10), background.seaFar, rng.uniform(0.05, 0.3));
  const white: Rgb = [clampByte(whiteTone[0] * lighting), clampByte(whiteTone[1] * lighting), clampByte(whiteTone[2] * lighting)];
  const flukeBlack = mix(jitter(rng, [38, 40, 44], 16), background.seaFar, rng.uniform(0, 0.3));
  const tones: Record<MarkTone, Rgb> = { white, black: flukeBlack, scar: mix(white, flukeBlack, rng.uniform(0.05, 0.3)), scarDark: mix(flukeBlack, white, 0.15) };
  const marks: Paint[] = individual.pattern.marks.map((m) => ({
    points: applyPose(pose, m.points),
    color: tones[m.tone],
    opacity: m.tone === 'scar' || m.tone === 'scarDark' ? rng.uniform(0.6, 0.9) : 1,
    width: m.filled ? 0 : Math.max(0.7, m.width * pose.lineScale),
  }));
  // Wet sheen: a few large, faint light patches that differ from photo to photo.
  const sheens = rng.int(5);
  for (let k = 0; k < sheens; k++) {
    const x = rng.uniform(-0.9, 0.9);
    const y = curveAt(shape.trailingSmooth, x) + rng.uniform(0, 0.3);
    const r = rng.uniform(0.08, 0.3);
    marks.push({ points: applyPose(pose, blob(rng, x, y, r * 1.6, r, rng.uniform(-0.5, 0.5), 0.5, 20)), color: mix(white, background.skyHorizon, 0.5), opacity: rng.uniform(0.05, 0.18), width: 0, soft: true });
  }
  const angle = rng.uniform(0, 2 * Math.PI);
  const cx = (raw[0] + raw[2]) / 2;
  const cy = (raw[1] + raw[3]) / 2;
  const half = flukeWidth / 2;
  const shade = { x1: cx - Math.cos(angle) * half, y1: cy - Math.sin(angle) * half, x2: cx + Math.cos(angle) * half, y2: cy + Math.sin(angle) * half, opacity: rng.uniform(0, 0.45) };
  const overlays = drawWaterEffects(rng.fork('water'), shape, pose, water, flukeWidth, background.seaFar);

  const effects: PhotoEffects = {
    blurSigma: rng.chance(0.45) ? 0 : rng.uniform(0.3, 1.6),
    noise: rng.uniform(1, 7),
    noiseSeed: rng.int(0x100000000),
    brightness: rng.uniform(0.82, 1.15),
    contrast: rng.uniform(0.8, 1.2),
    gamma: rng.uniform(0.8, 1.25),
    gains: [rng.uniform(0.95, 1.05), rng.uniform(0.95, 1.05), rng.uniform(0.95, 1.05)],
    greyscale: rng.chance(0.15),
    quality: 60 + rng.int(36),
  };
  const clampX = (v: number): number => Math.max(0, Math.min(width - 1, v));
  const clampY = (v: number): number => Math.max(0, Math.min(height - 1, v));
  const pixelBox: [number, number, number, number] = [clampX(Math.floor(raw[0])), clampY(Math.floor(raw[1])), clampX(Math.ceil(raw[2])), clampY(Math.ceil(raw[3]))];
  return { width, height, background, outline, flukeBlack, marks, shade, overlays, effects, box: pixelBox };
}
