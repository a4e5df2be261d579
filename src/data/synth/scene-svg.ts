/**
 * Turns a {@link PhotoScene} into an SVG document for sharp/librsvg to rasterise.
 *
 * Rendering cost matters (a catalog is thousands of photos): every element with an `opacity`
 * attribute, and every full-frame shape under a clip path, makes librsvg composite an offscreen
 * layer, so translucency is written as fill-opacity / stroke-opacity and the fluke is the only
 * clipped group.
 */
import type { Paint, PhotoScene, Rgb, Ripple } from './scene-types.js';

/**
 * SVG path data of a polyline; one decimal place is plenty.
 *
 * @param points - x, y interleaved
 * @param closed - append Z
 * @returns the `d` attribute text ('' for fewer than two points)
 * @example
 * pathData(Float64Array.of(0, 0, 10, 0, 10, 10), true); // 'M0.0 0.0L10.0 0.0L10.0 10.0Z'
 */
export function pathData(points: Float64Array, closed: boolean): string {
  if (points.length < 4) return '';
  const parts: string[] = [`M${points[0].toFixed(1)} ${points[1].toFixed(1)}`];
  for (let i = 2; i < points.length; i += 2) parts.push(`L${points[i].toFixed(1)} ${points[i + 1].toFixed(1)}`);
  if (closed) parts.push('Z');
  return parts.join('');
}

function rgb(c: Rgb): string {
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

/** Soft fills: one radial gradient (opaque centre, transparent rim) per distinct colour. */
interface SoftFills {
  id(c: Rgb): string;
  defs: string[];
}

function createSoftFills(): SoftFills {
  const ids = new Map<string, string>();
  const defs: string[] = [];
  return {
    defs,
    id(c) {
      const key = rgb(c);
      let id = ids.get(key);
      if (!id) {
        id = `soft${ids.size}`;
        ids.set(key, id);
        defs.push(`<radialGradient id="${id}"><stop offset="0" stop-color="${key}"/><stop offset="0.55" stop-color="${key}" stop-opacity="0.75"/><stop offset="1" stop-color="${key}" stop-opacity="0"/></radialGradient>`);
      }
      return id;
    },
  };
}

function paint(p: Paint, soft: SoftFills, data?: string): string {
  const d = data ?? pathData(p.points, p.width === 0);
  if (d === '') return '';
  const op = p.opacity < 1 ? p.opacity.toFixed(3) : '';
  if (p.width === 0) {
    const fill = p.soft ? `url(#${soft.id(p.color)})` : rgb(p.color);
    return `<path d="${d}" fill="${fill}"${op ? ` fill-opacity="${op}"` : ''}/>`;
  }
  return `<path d="${d}" fill="none" stroke="${rgb(p.color)}" stroke-width="${p.width.toFixed(2)}" stroke-linecap="round" stroke-linejoin="round"${op ? ` stroke-opacity="${op}"` : ''}/>`;
}

/**
 * Paints in order, with runs of consecutive flat paints of one style merged into one <path> of
 * several subpaths: librsvg's cost is mostly per element. All blobs of a scene wind the same way,
 * so the nonzero fill rule paints their union (overlaps of one run are not blended twice).
 */
function paintRuns(paints: readonly Paint[], soft: SoftFills, out: string[]): void {
  let i = 0;
  while (i < paints.length) {
    const p = paints[i];
    if (p.soft) {
      out.push(paint(p, soft));
      i++;
      continue;
    }
    let j = i + 1;
    while (j < paints.length && !paints[j].soft && paints[j].width === p.width && paints[j].opacity === p.opacity && rgb(paints[j].color) === rgb(p.color)) j++;
    if (j === i + 1) {
      out.push(paint(p, soft));
    } else {
      const d = paints.slice(i, j).map((q) => pathData(q.points, q.width === 0)).join('');
      out.push(paint(p, soft, d));
    }
    i = j;
  }
}

/** Ripples grouped by colour and opacity (quantised to 0.05): a few paths instead of hundreds. */
function ripples(list: readonly Ripple[], out: string[]): void {
  const groups = new Map<string, string[]>();
  for (const r of list) {
    const key = `${rgb(r.color)}|${(Math.round(r.opacity * 20) / 20).toFixed(2)}`;
    const x0 = (r.x - r.rx).toFixed(1);
    const x1 = (r.x + r.rx).toFixed(1);
    const x = r.x.toFixed(1);
    const y = r.y.toFixed(1);
    let g = groups.get(key);
    if (!g) groups.set(key, (g = []));
    g.push(`M${x0} ${y}Q${x} ${(r.y - r.ry).toFixed(1)} ${x1} ${y}Q${x} ${(r.y + r.ry).toFixed(1)} ${x0} ${y}Z`);
  }
  for (const [key, parts] of groups) {
    const [color, opacity] = key.split('|');
    out.push(`<path d="${parts.join('')}" fill="${color}" fill-opacity="${opacity}"/>`);
  }
}

/**
 * Builds the SVG document of a scene.
 *
 * @param scene - the photo scene
 * @returns SVG text, `width` x `height` pixels
 * @example
 * const png = await sharp(Buffer.from(sceneToSvg(scene))).png().toBuffer();
 */
export function sceneToSvg(scene: PhotoScene): string {
  const { width: w, height: h, background: bg } = scene;
  const hy = (x: number): number => bg.horizonY + bg.slope * x;
  const seaPoly = Float64Array.of(-10, hy(-10), w + 10, hy(w + 10), w + 10, h + 10, -10, h + 10);
  const horizonMid = hy(w / 2);
  const s = scene.shade;
  const soft = createSoftFills();
  const outline = pathData(scene.outline, true);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}">`);
  out.push('<defs>');
  out.push(`<linearGradient id="sky" gradientUnits="userSpaceOnUse" x1="0" y1="0" x2="0" y2="${Math.max(1, horizonMid).toFixed(1)}"><stop offset="0" stop-color="${rgb(bg.skyTop)}"/><stop offset="1" stop-color="${rgb(bg.skyHorizon)}"/></linearGradient>`);
  out.push(`<linearGradient id="sea" gradientUnits="userSpaceOnUse" x1="0" y1="${horizonMid.toFixed(1)}" x2="0" y2="${h}"><stop offset="0" stop-color="${rgb(bg.seaFar)}"/><stop offset="1" stop-color="${rgb(bg.seaNear)}"/></linearGradient>`);
  out.push(`<linearGradient id="shade" gradientUnits="userSpaceOnUse" x1="${s.x1.toFixed(1)}" y1="${s.y1.toFixed(1)}" x2="${s.x2.toFixed(1)}" y2="${s.y2.toFixed(1)}"><stop offset="0" stop-color="#000" stop-opacity="0"/><stop offset="1" stop-color="#000" stop-opacity="${s.opacity.toFixed(3)}"/></linearGradient>`);
  out.push(`<clipPath id="fluke"><path d="${outline}"/></clipPath>`);
  const defsAt = out.length;
  out.push('</defs>');
  out.push(`<rect x="0" y="0" width="${w}" height="${h}" fill="url(#sky)"/>`);
  if (bg.land) out.push(paint(bg.land, soft));
  out.push(`<path d="${pathData(seaPoly, true)}" fill="url(#sea)"/>`);
  paintRuns(bg.bands, soft, out);
  ripples(bg.ripples, out);
  out.push(`<path d="${outline}" fill="${rgb(scene.flukeBlack)}"/>`);
  out.push('<g clip-path="url(#fluke)">');
  paintRuns(scene.marks, soft, out);
  out.push('</g>');
  // The shading is painted with the outline itself: a full-frame rect under the clip cost ~50 ms.
  out.push(`<path d="${outline}" fill="url(#shade)"/>`);
  paintRuns(scene.overlays, soft, out);
  out.push('</svg>');
  // Gradients are known only once every paint is written; defs may come in any order in SVG.
  out.splice(defsAt, 0, ...soft.defs);
  return out.join('');
}

/**
 * Builds a two-tone SVG of the fluke's visible area only (white on black): the ground truth the
 * bounding box is checked against.
 *
 * @param scene - the photo scene
 * @returns SVG text of the mask
 * @example
 * const { data } = await sharp(Buffer.from(flukeMaskSvg(scene))).greyscale().raw().toBuffer({ resolveWithObject: true });
 */
export function flukeMaskSvg(scene: PhotoScene): string {
  const { width: w, height: h } = scene;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}">` +
    `<rect x="0" y="0" width="${w}" height="${h}" fill="#000"/>` +
    `<path d="${pathData(scene.outline, true)}" fill="#fff"/></svg>`
  );
}
