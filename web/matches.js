// Explained matches: the photo under review and a candidate's photo, their review crops side by
// side, with a line between each pair of keypoints that one affine map verified (the local
// matcher's RANSAC inliers, from GET /api/photos/{id}/correspondences). The route gives points in
// each photo's own pixels and the region of the photo its crop.jpg shows, so the drawing maps
// photo pixels onto the crops the page shows, whatever their size.
import { api, h } from './dom.js';

const SVG = 'http://www.w3.org/2000/svg';
/** Width of each crop in the drawing's coordinates (the SVG scales to its box). */
const WIDTH = 480;
const GAP = 16;

/** An SVG element with attributes. */
function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  el.append(...children);
  return el;
}

/** A photo point (original pixels) on a crop drawn `width` x `height` from the photo's `region`. */
const onCrop = (region, width, height, [x, y]) => [
  ((x - region.x0) / (region.x1 - region.x0)) * width,
  ((y - region.y0) / (region.y1 - region.y0)) * height,
];

/** Height of a crop drawn WIDTH wide: crop.jpg keeps its region's aspect. */
const heightOf = (region) => Math.round((WIDTH * (region.y1 - region.y0)) / (region.x1 - region.x0));

/**
 * Draws the correspondences of an answer of the route: both crops and one `line` per inlier.
 *
 * @param c - the route's answer
 * @returns the SVG element
 */
export function correspondenceDrawing(c) {
  const hq = heightOf(c.query.region);
  const hc = heightOf(c.candidate.region);
  const left = { region: c.query.region, x: 0, h: hq };
  const right = { region: c.candidate.region, x: WIDTH + GAP, h: hc };
  const image = (id, side) => svg('image', { href: `/api/photos/${id}/crop.jpg?width=${WIDTH}`, x: side.x, y: 0, width: WIDTH, height: side.h, preserveAspectRatio: 'none' });
  const lines = c.inliers.map((m, i) => {
    const [x1, y1] = onCrop(left.region, WIDTH, left.h, m.query);
    const [x2, y2] = onCrop(right.region, WIDTH, right.h, m.candidate);
    // hues spread by the golden angle: neighbouring lines stay told apart
    const colour = `hsl(${Math.round((i * 137.5) % 360)} 90% 60%)`;
    return svg('g', { class: 'correspondence' },
      svg('line', { x1: x1.toFixed(1), y1: y1.toFixed(1), x2: (x2 + right.x).toFixed(1), y2: y2.toFixed(1), stroke: colour }),
      svg('circle', { cx: x1.toFixed(1), cy: y1.toFixed(1), r: 3, fill: colour }),
      svg('circle', { cx: (x2 + right.x).toFixed(1), cy: y2.toFixed(1), r: 3, fill: colour }));
  });
  return svg('svg', { class: 'correspondences', viewBox: `0 0 ${2 * WIDTH + GAP} ${Math.max(hq, hc)}`, role: 'img', 'aria-label': `${c.count} matched keypoints` },
    image(c.query.photoId, left), image(c.candidate.photoId, right), ...lines);
}

/**
 * The panel of one candidate photo: fetches its correspondences with the photo under review and
 * draws them (a line per verified keypoint pair), with a caption saying how many.
 *
 * @param queryId - the photo under review
 * @param candidatePhotoId - the candidate's photo
 * @param label - who the candidate is (for the caption)
 * @returns the panel element (filled when the answer arrives)
 */
export function correspondencePanel(queryId, candidatePhotoId, label) {
  const caption = h('figcaption', { class: 'muted' }, `Matching keypoints of photo #${queryId} and ${label}…`);
  const panel = h('figure', { class: 'explain', 'data-testid': 'correspondences', 'data-state': 'loading' }, caption);
  api('GET', `/api/photos/${queryId}/correspondences?candidate=${candidatePhotoId}`).then((c) => {
    panel.prepend(correspondenceDrawing(c));
    caption.textContent = c.count
      ? `${c.count} keypoints of photo #${queryId} (left) and ${label} (right) agree on one affine map (of ${c.tentative} matched). K hides.`
      : `No keypoints of photo #${queryId} and ${label} agree on one affine map (${c.tentative} matched before verification). K hides.`;
    panel.dataset.count = String(c.count);
    panel.dataset.state = 'drawn';
  }, (e) => {
    caption.textContent = `Could not match the keypoints: ${e.message}`;
    panel.dataset.state = 'error';
  });
  return panel;
}
