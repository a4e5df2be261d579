// Side-by-side comparison of the photo under review and a candidate's photo, at full resolution:
// each pane zooms (wheel, + and - buttons, double-click) and pans (drag); with "zoom together" on,
// both panes follow one another, so the same part of two flukes stays side by side.
import { h, overlay } from './dom.js';

/** A pane showing one picture that zooms about a point and pans; `onView` reports changes. */
function zoomPane(label, src, testid) {
  const img = h('img', { src, alt: label, draggable: 'false' });
  const stage = h('div', { class: 'zoom-stage', 'data-testid': testid }, img);
  const pane = h('figure', { class: 'zoom-pane' }, h('figcaption', {}, label), stage);
  const view = { scale: 1, x: 0, y: 0 };
  // the view that shows the whole picture: its scale and top-left corner
  const home = { scale: 1, x: 0, y: 0 };
  const apply = () => { img.style.transform = `translate(${view.x}px, ${view.y}px) scale(${view.scale})`; img.dataset.zoom = (view.scale / home.scale).toFixed(2); };
  const api = {
    pane, img, view, home, onView: null,
    set(v) { Object.assign(view, v); apply(); },
    /** Zooms by `factor` about the point (px, py) of the stage. */
    zoomAt(factor, px, py) {
      const s = Math.min(home.scale * 16, Math.max(home.scale / 2, view.scale * factor));
      const k = s / view.scale;
      api.set({ scale: s, x: px - (px - view.x) * k, y: py - (py - view.y) * k });
      api.onView?.(api);
    },
    /** Shows the whole picture. */
    fit() {
      const r = stage.getBoundingClientRect();
      const scale = Math.min(r.width / img.naturalWidth, r.height / img.naturalHeight) || 1;
      Object.assign(home, { scale, x: (r.width - img.naturalWidth * scale) / 2, y: (r.height - img.naturalHeight * scale) / 2 });
      api.set({ ...home });
    },
    /** Takes the same relative view as another pane: the same zoom over the same part of the picture. */
    mirror(other) {
      const z = other.view.scale / other.home.scale;
      const fx = (img.naturalWidth * home.scale) / (other.img.naturalWidth * other.home.scale);
      const fy = (img.naturalHeight * home.scale) / (other.img.naturalHeight * other.home.scale);
      api.set({ scale: z * home.scale, x: home.x + (other.view.x - other.home.x) * fx, y: home.y + (other.view.y - other.home.y) * fy });
    },
  };
  img.addEventListener('load', () => api.fit());
  stage.addEventListener('wheel', (e) => {
    e.preventDefault();
    const r = stage.getBoundingClientRect();
    api.zoomAt(e.deltaY < 0 ? 1.25 : 0.8, e.clientX - r.left, e.clientY - r.top);
  }, { passive: false });
  stage.addEventListener('dblclick', (e) => { const r = stage.getBoundingClientRect(); api.zoomAt(2, e.clientX - r.left, e.clientY - r.top); });
  let drag = null;
  stage.addEventListener('pointerdown', (e) => { drag = { x: e.clientX - view.x, y: e.clientY - view.y }; stage.setPointerCapture(e.pointerId); });
  stage.addEventListener('pointermove', (e) => { if (drag) { api.set({ x: e.clientX - drag.x, y: e.clientY - drag.y }); api.onView?.(api); } });
  stage.addEventListener('pointerup', () => { drag = null; });
  return api;
}

/**
 * Opens the comparison of two photos.
 *
 * @param query - { id, label } of the photo under review
 * @param other - { id, label } of the candidate's photo
 */
export function openCompare(query, other) {
  let whole = false;
  const src = (id) => (whole ? `/api/photos/${id}/image` : `/api/photos/${id}/crop.jpg?width=1024`);
  const left = zoomPane(query.label, src(query.id), 'compare-query');
  const right = zoomPane(other.label, src(other.id), 'compare-candidate');
  const together = h('input', { type: 'checkbox', checked: true, 'data-testid': 'zoom-together' });
  // with "zoom together", a pane follows the other: the same zoom over the same part
  const follow = (from, to) => { if (together.checked) to.mirror(from); };
  left.onView = (p) => follow(p, right);
  right.onView = (p) => follow(p, left);
  const both = (f) => { for (const p of [left, right]) f(p); };
  const zoomBoth = (factor) => both((p) => { const r = p.pane.querySelector('.zoom-stage').getBoundingClientRect(); p.zoomAt(factor, r.width / 2, r.height / 2); });
  const mode = h('button', {
    'data-testid': 'whole-photos',
    onclick: () => { whole = !whole; left.img.src = src(query.id); right.img.src = src(other.id); mode.textContent = whole ? 'Show the fluke crops' : 'Show the whole photos'; },
  }, 'Show the whole photos');
  const tools = h('div', { class: 'actions' },
    h('button', { onclick: () => zoomBoth(1.5), 'data-testid': 'zoom-in', title: 'zoom in (wheel or double-click on a photo)' }, 'Zoom in +'),
    h('button', { onclick: () => zoomBoth(1 / 1.5), title: 'zoom out' }, 'Zoom out −'),
    h('button', { onclick: () => both((p) => p.fit()) }, 'Fit'),
    mode,
    h('label', {}, together, ' zoom together'),
    h('span', { class: 'muted' }, 'Drag to move, wheel or double-click to zoom. Full resolution.'));
  overlay('Compare side by side', h('div', {}, tools, h('div', { class: 'compare' }, left.pane, right.pane)), { testid: 'compare' });
}
