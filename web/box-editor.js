// Drawing or moving a photo's fluke box on the whole photo: drag on the photo to draw a new box,
// drag inside the box to move it; Save sends it in the photo's own pixels (PUT /api/photos/:id/box).
import { api, h, overlay, toast } from './dom.js';

/**
 * Opens the box editor of a photo.
 *
 * @param photo - the photo record (size in upright pixels, current box)
 * @param onSaved - called with the updated photo
 */
export function openBoxEditor(photo, onSaved) {
  const img = h('img', { src: `/api/photos/${photo.id}/image`, alt: `photo ${photo.id}`, draggable: 'false' });
  const rect = h('div', { class: 'box-rect', 'data-testid': 'box-rect' });
  const stage = h('div', { class: 'box-stage', 'data-testid': 'box-stage' }, img, rect);
  const status = h('p', { class: 'muted', 'data-testid': 'box-status' });
  // the box in photo pixels
  let box = photo.box ? { ...photo.box } : null;
  const scale = () => img.clientWidth / photo.width;
  const show = () => {
    rect.hidden = !box;
    status.textContent = box ? `Box: ${Math.round(box.x1 - box.x0)} × ${Math.round(box.y1 - box.y0)} pixels from (${Math.round(box.x0)}, ${Math.round(box.y0)}).` : 'No box: drag across the fluke to draw one.';
    if (!box) return;
    const k = scale();
    Object.assign(rect.style, { left: `${box.x0 * k}px`, top: `${box.y0 * k}px`, width: `${(box.x1 - box.x0) * k}px`, height: `${(box.y1 - box.y0) * k}px` });
  };
  img.addEventListener('load', show);
  const at = (e) => {
    const r = img.getBoundingClientRect();
    const k = scale();
    return { x: Math.min(photo.width, Math.max(0, (e.clientX - r.left) / k)), y: Math.min(photo.height, Math.max(0, (e.clientY - r.top) / k)) };
  };
  let drag = null;
  stage.addEventListener('pointerdown', (e) => {
    e.preventDefault();
    const p = at(e);
    const inside = box && p.x >= box.x0 && p.x <= box.x1 && p.y >= box.y0 && p.y <= box.y1;
    drag = { kind: inside ? 'move' : 'draw', from: p, start: box ? { ...box } : null };
    stage.setPointerCapture(e.pointerId);
  });
  stage.addEventListener('pointermove', (e) => {
    if (!drag) return;
    const p = at(e);
    if (drag.kind === 'draw') {
      box = { x0: Math.min(drag.from.x, p.x), y0: Math.min(drag.from.y, p.y), x1: Math.max(drag.from.x, p.x), y1: Math.max(drag.from.y, p.y) };
    } else {
      const w = drag.start.x1 - drag.start.x0;
      const hgt = drag.start.y1 - drag.start.y0;
      const x0 = Math.min(photo.width - w, Math.max(0, drag.start.x0 + p.x - drag.from.x));
      const y0 = Math.min(photo.height - hgt, Math.max(0, drag.start.y0 + p.y - drag.from.y));
      box = { x0, y0, x1: x0 + w, y1: y0 + hgt };
    }
    show();
  });
  stage.addEventListener('pointerup', () => {
    // a click without a drag draws nothing
    if (drag?.kind === 'draw' && box && (box.x1 - box.x0 < 4 || box.y1 - box.y0 < 4)) box = drag.start;
    drag = null;
    show();
  });
  const save = async () => {
    if (!box) { toast('draw a box first', true); return; }
    const rounded = Object.fromEntries(Object.entries(box).map(([k, v]) => [k, Math.round(v)]));
    try {
      const updated = await api('PUT', `/api/photos/${photo.id}/box`, rounded);
      toast('fluke box saved: the photo is matched with it from now on');
      close();
      onSaved(updated);
    } catch (e) { toast(e.message, true); }
  };
  const close = overlay(`Fluke box of photo #${photo.id}`, h('div', {},
    h('p', { class: 'muted' }, 'Drag across the fluke to draw its box; drag inside the box to move it. The box decides what part of the photo is compared.'),
    stage, status,
    h('div', { class: 'actions' }, h('button', { class: 'primary', onclick: save, 'data-testid': 'box-save' }, 'Save box'))), { testid: 'box-editor' });
  show();
}
