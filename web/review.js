// The review screen: the photo under review (its box, when and where it was taken, its sighting,
// its decisions) beside the model's candidates (match score against the threshold, earlier
// sightings, their best photos, compared side by side at full resolution).
import { api, beginScreen, boxWords, crop, go, h, render, score, sourceWords, toast, when, where } from './dom.js';
import { openBoxEditor } from './box-editor.js';
import { openCompare } from './compare.js';
import { correspondencePanel } from './matches.js';


/**
 * The keys of the review screen (set while it is shown), and the scope of the candidates the
 * reviewer asked for (querystring fields of /api/photos/{id}/candidates: kept while the page is
 * open, so the next photos are matched within it too; {}: the photo's species and a compatible viewpoint).
 */
export const review = { keyHandler: null, lastDecided: null, scope: {} };

/** The asked scope as querystring fields to append. */
function scopeQuery() {
  return Object.entries(review.scope).filter(([, v]) => v !== undefined && v !== '').map(([k, v]) => `&${k}=${encodeURIComponent(v)}`).join('');
}

/**
 * The scope the candidates were drawn from (what the service applied: the photo's species and a
 * compatible viewpoint, and what was asked), and a small form to change it; the candidates reload.
 */
function scopeBlock(ident, photo, rerender) {
  const s = ident.scope;
  const any = (v) => v ?? h('span', { class: 'muted' }, 'any');
  const shown = h('dl', { class: 'details scope', 'data-testid': 'scope' },
    h('dt', {}, 'Species'), h('dd', { 'data-testid': 'scope-species' }, s ? (s.species ?? h('span', { class: 'muted' }, 'any (unknown for this photo)')) : '?'),
    h('dt', {}, 'Viewpoint'), h('dd', { 'data-testid': 'scope-viewpoint' }, s ? any(s.viewpoint && `compatible with ${s.viewpoint}`) : '?'),
    h('dt', {}, 'Location'), h('dd', { 'data-testid': 'scope-location' }, s ? any(s.location) : '?'),
    h('dt', {}, 'Radius'), h('dd', { 'data-testid': 'scope-radius' }, s ? any(s.near && `${s.near.km} km around ${where(s.near.latitude, s.near.longitude)}`) : '?'),
    h('dt', {}, 'Dates'), h('dd', { 'data-testid': 'scope-dates' }, s ? any((s.from || s.to) && `${s.from ?? '…'} to ${s.to ?? '…'}`) : '?'));
  const a = review.scope;
  const input = (name, attrs) => h('input', { name, value: a[name] ?? '', 'data-testid': `scope-${name}-input`, ...attrs });
  const viewpoint = h('select', { name: 'viewpoint', 'data-testid': 'scope-viewpoint-input' },
    h('option', { value: 'compatible', selected: a.viewpoint !== 'any' }, 'compatible viewpoints'), h('option', { value: 'any', selected: a.viewpoint === 'any' }, 'every viewpoint'));
  const fields = [
    input('species', { placeholder: "the photo's own", size: 16, title: 'the species to match when this photo\'s is unknown (a known species is never matched against another)' }),
    viewpoint,
    input('location', { placeholder: photo.location ?? 'location id', size: 12, title: 'candidates taken at this location id only' }),
    input('km', { type: 'number', min: '0', step: 'any', placeholder: 'km', size: 5, title: "candidates within this many km of the photo's position" }),
    input('days', { type: 'number', min: '0', step: '1', placeholder: '± days', size: 5, title: "candidates taken within this many days of the photo's date" }),
    input('from', { type: 'date', title: 'candidates taken on or after this day' }), input('to', { type: 'date', title: 'candidates taken on or before this day' }),
  ];
  const apply = (e) => {
    e.preventDefault();
    review.scope = {};
    for (const f of fields) if (f.value.trim() !== '' && !(f.name === 'viewpoint' && f.value === 'compatible')) review.scope[f.name] = f.value.trim();
    rerender();
  };
  const clear = () => { review.scope = {}; rerender(); };
  return h('section', {}, h('h3', {}, 'Candidates from'), shown,
    h('form', { class: 'scope-form', onsubmit: apply, 'data-testid': 'scope-form' },
      fields.map((f, i) => h('label', {}, h('span', { class: 'muted' }, ['species', 'viewpoint', 'location', 'within km', '± days', 'from', 'to'][i]), f)),
      h('button', { type: 'submit', class: 'primary', 'data-testid': 'scope-apply' }, 'Apply'),
      h('button', { type: 'button', onclick: clear, 'data-testid': 'scope-clear' }, 'Clear')));
}

/** Undoes the decision this page took last; the photo is shown again for review. */
export async function undoLast() {
  if (review.lastDecided === null) return;
  const photoId = review.lastDecided;
  try {
    await api('POST', `/api/photos/${photoId}/undo`, {});
    review.lastDecided = null;
    toast(`undone: photo #${photoId}`);
    go(`#/review/${photoId}`);
  } catch (e) {
    toast(e.message, true);
  }
}

/** When and where the photo was taken, with where each detail came from, and a form to correct them. */
function detailsBlock(photo, rerender) {
  const position = where(photo.latitude, photo.longitude);
  const shown = h('dl', { class: 'details', 'data-testid': 'photo-details' },
    h('dt', {}, 'Taken'), h('dd', { 'data-testid': 'taken-on' }, when(photo.takenOn), ' ', h('span', { class: 'muted' }, sourceWords(photo.takenOnSource, 'EXIF'))),
    h('dt', {}, 'Position'), h('dd', { 'data-testid': 'position' }, position ?? 'unknown', ' ', h('span', { class: 'muted' }, sourceWords(photo.positionSource, 'GPS (EXIF)'))),
    h('dt', {}, 'Place'), h('dd', {}, photo.location ?? h('span', { class: 'muted' }, 'not named')));
  const form = () => {
    const takenOn = h('input', { value: photo.takenOn?.replace('T', ' ').slice(0, 16) ?? '', placeholder: 'YYYY-MM-DD HH:MM', size: 16, 'data-testid': 'edit-taken-on' });
    const place = h('input', { value: photo.location ?? '', placeholder: 'place name', size: 18, 'data-testid': 'edit-place' });
    const lat = h('input', { value: photo.latitude ?? '', placeholder: 'latitude (S < 0)', size: 11, 'data-testid': 'edit-latitude' });
    const lon = h('input', { value: photo.longitude ?? '', placeholder: 'longitude (W < 0)', size: 11, 'data-testid': 'edit-longitude' });
    const save = async () => {
      // only what the person changed is sent (and so marked as entered by hand)
      const number = (input) => (input.value.trim() === '' ? null : Number(input.value));
      const change = {};
      if (takenOn.value !== takenOn.defaultValue) change.takenOn = takenOn.value.trim() ? takenOn.value.trim().replace(' ', 'T') : null;
      if (place.value !== place.defaultValue) change.location = place.value.trim() || null;
      if (lat.value !== lat.defaultValue || lon.value !== lon.defaultValue) Object.assign(change, { latitude: number(lat), longitude: number(lon) });
      if (!Object.keys(change).length) { toast('nothing changed'); return; }
      try { await api('PATCH', `/api/photos/${photo.id}`, change); toast('details saved'); rerender(); } catch (e) { toast(e.message, true); }
    };
    editor.replaceChildren(h('p', {}, takenOn, ' ', place), h('p', {}, lat, ' ', lon, ' ', h('button', { class: 'primary', onclick: save, 'data-testid': 'save-details' }, 'Save')));
  };
  const editor = h('div', {}, h('button', { onclick: form, 'data-testid': 'edit-details' }, 'Correct date or place'));
  return h('section', {}, shown, editor);
}

/** The sighting the photo belongs to: the other photos in it, and moving the photo to another. */
async function sightingBlock(photo, rerender) {
  const [encounter, sameDay] = await Promise.all([
    photo.encounterId === null ? null : api('GET', `/api/encounters/${photo.encounterId}`),
    api('GET', photo.takenOn ? `/api/encounters?date=${photo.takenOn.slice(0, 10)}` : '/api/encounters?limit=10'),
  ]);
  const others = encounter ? encounter.photos.filter((p) => p.id !== photo.id) : [];
  const choices = sameDay.filter((e) => e.id !== photo.encounterId);
  const select = h('select', { 'data-testid': 'move-sighting' }, h('option', { value: '' }, 'move to another sighting…'),
    choices.map((e) => h('option', { value: e.id }, `sighting ${e.id}: ${e.photos.length} photo(s)${e.photos[0]?.takenOn ? `, ${when(e.photos[0].takenOn)}` : ''}${e.photos.find((p) => p.location)?.location ? `, ${e.photos.find((p) => p.location).location}` : ''}`)),
    h('option', { value: 'new' }, 'a new sighting of its own'));
  select.addEventListener('change', async () => {
    if (!select.value) return;
    try {
      await api('PUT', `/api/photos/${photo.id}/encounter`, { encounterId: select.value === 'new' ? null : Number(select.value) });
      toast('sighting changed');
      rerender();
    } catch (e) { toast(e.message, true); }
  });
  return h('section', { 'data-testid': 'sighting', 'data-encounter': photo.encounterId ?? '' },
    h('h3', {}, encounter ? `Sighting ${encounter.id}` : 'Not in a sighting'),
    h('p', { class: 'muted' }, encounter ? (others.length ? `${others.length} other photo(s) taken with it:` : 'The only photo of this sighting.') : 'Photos of one upload, or of one day close together, are grouped as one sighting.'),
    others.length ? h('div', { class: 'row' }, others.map((p) => h('a', { href: `#/review/${p.id}`, 'data-testid': 'sighting-photo', title: `#${p.id} ${p.originalName}` }, crop(p.id, 120, { class: 'thumb' })))) : '',
    h('p', {}, select));
}

/** The photo's decisions, newest first, and undoing the last one still in force. */
function historyBlock(photo, decisions, names, rerender) {
  const words = (d) => {
    const who = d.individualId ? names.get(d.individualId) ?? `individual ${d.individualId}` : '';
    return {
      import: `imported as ${who}`, confirm: `confirmed as ${who}`, 'new-individual': `new individual ${who}`, skip: 'set aside (skipped)',
      merge: `merged into ${who}`, undo: `undid the decision before${who ? `: back to ${who}` : ''}`,
    }[d.action] ?? d.action;
  };
  const undoable = photo.status !== 'pending' && decisions.some((d) => d.action !== 'import');
  const undo = async () => {
    try { await api('POST', `/api/photos/${photo.id}/undo`, {}); toast(`undone: photo #${photo.id}`); rerender(); } catch (e) { toast(e.message, true); }
  };
  return h('section', { 'data-testid': 'history' }, h('h3', {}, 'Decisions'),
    decisions.length ? h('ol', { class: 'history' }, decisions.map((d) => h('li', { 'data-action': d.action },
      `${d.decidedAt.slice(0, 16).replace('T', ' ')} · ${words(d)} · by ${d.decidedBy}`, d.score !== null ? ` (match score ${score(d.score)})` : ''))) : h('p', { class: 'muted' }, 'None yet.'),
    undoable ? h('button', { onclick: undo, 'data-testid': 'undo-photo' }, "Undo this photo's last decision") : '');
}

/**
 * A candidate's scores from each matcher the service computed: the Siamese network's, the local
 * features' (with the keypoints one affine map verified) and the fused one; the score the
 * service ranks by (its --matcher) is marked.
 */
function matcherScores(c, matcher) {
  const part = (kind, label, text, title) => h('span', { class: `matcher${kind === matcher ? ' ranked' : ''}`, 'data-testid': `score-${kind}`, title: kind === matcher ? `${title}; the candidates are ranked by this score` : title },
    `${label} ${text}`, kind === matcher ? h('small', {}, ' (ranked by)') : null);
  const parts = [part('siamese', 'Siamese', score(c.siamese ?? c.score), "the network's score for the individual's best photo")];
  if (c.local !== undefined) parts.push(part('local', 'local', `${c.local.toFixed(2)} · ${c.inliers ?? 0} verified keypoints`, 'keypoints matched against its photos: LNBNN weight of those one affine map verifies'));
  if (c.fused !== undefined) parts.push(part('fused', 'fused', score(c.fused), 'both scores combined by the calibrated fusion'));
  return h('p', { class: 'matcher-scores', 'data-testid': 'candidate-scores' }, parts);
}

/** A candidate's earlier sightings in a line each: date, place, position. */
function earlierSightings(sightings) {
  const dated = sightings.filter((s) => s.encounterId !== null);
  if (!dated.length) return h('p', { class: 'muted', 'data-testid': 'candidate-sightings' }, 'No dated sightings.');
  return h('ul', { class: 'sightings', 'data-testid': 'candidate-sightings' }, dated.slice(0, 3).map((s) => h('li', {},
    when(s.date).slice(0, 10), s.location ? ` · ${s.location}` : '', where(s.latitude, s.longitude) ? ` · ${where(s.latitude, s.longitude)}` : '')),
  dated.length > 3 ? h('li', { class: 'muted' }, `and ${dated.length - 3} earlier`) : '');
}

export async function showReview(photoId) {
  const screen = beginScreen();
  const rerender = () => go(`#/review/${photoId}`);
  const [photo, ident, decisions] = await Promise.all([
    api('GET', `/api/photos/${photoId}`), api('GET', `/api/photos/${photoId}/candidates?k=5${scopeQuery()}`).catch((e) => ({ error: e.message })), api('GET', `/api/photos/${photoId}/decisions`),
  ]);
  const candidates = ident.candidates ?? [];
  // a photo whose features a worker has not extracted yet: shown as such, looked at again shortly
  const processing = /being processed/.test(ident.error ?? '');
  const sightings = await Promise.all(candidates.map((c) => api('GET', `/api/individuals/${c.individualId}/sightings`).catch(() => [])));
  const names = new Map(candidates.map((c) => [c.individualId, c.name]));
  for (const d of decisions) if (d.individualId && !names.has(d.individualId)) names.set(d.individualId, (await api('GET', `/api/individuals/${d.individualId}`).catch(() => ({ name: `individual ${d.individualId}` }))).name);
  let focus = 0;
  // the matched keypoints (K): drawn under the highlighted candidate, following the highlight
  let explained = false;
  let panel = null;
  const showExplained = () => {
    panel?.remove();
    panel = null;
    const c = candidates[focus];
    if (!explained || !c?.photos.length) return;
    panel = correspondencePanel(photoId, c.photos[0].photoId, `${c.name}'s photo #${c.photos[0].photoId}`);
    rows[focus].append(panel);
  };
  const explainAt = (i) => { explained = !(explained && focus === i); if (focus !== i) setFocus(i); else showExplained(); };
  const next = async () => {
    const q = await api('GET', '/api/photos?status=pending&limit=1000');
    const after = q.items.find((p) => p.id > photoId) ?? q.items.find((p) => p.id !== photoId);
    go(after ? `#/review/${after.id}` : '#/');
  };
  const decide = async (fn, message) => {
    try { await fn(); review.lastDecided = photoId; toast(`${message} (U: undo)`); await next(); } catch (e) { toast(e.message, true); }
  };
  const confirm = (c) => decide(() => api('POST', `/api/photos/${photoId}/confirm`, { individualId: c.individualId, score: c.score }), `confirmed: ${c.name}`);
  const newIndividual = () => {
    const name = window.prompt('Name of the new individual (empty: automatic W-number)', '');
    if (name === null) return;
    return decide(() => api('POST', `/api/photos/${photoId}/new-individual`, { name }), 'new individual created');
  };
  const skip = () => decide(() => api('POST', `/api/photos/${photoId}/skip`, {}), 'skipped');
  const threshold = ident.threshold;
  const compare = (c, p) => openCompare({ id: photoId, label: `Photo under review #${photoId}` }, { id: p.photoId, label: `${c.name} · photo #${p.photoId} · match score ${score(p.score)}` });
  // the local matcher's score is a sum of keypoint weights, not a 0..1 score: its bar is scaled
  const scale = ident.matcher === 'local' ? 1.25 * Math.max(threshold, ...candidates.map((c) => c.score)) || 1 : 1;
  const rows = candidates.map((c, i) => {
    const bar = h('div', { class: 'bar', title: `match score ${score(c.score)}; the line marks the threshold ${score(threshold)}` }, h('span', { style: `width:${Math.min(100, Math.max(2, 100 * c.score / scale))}%` }), h('i', { class: 'threshold', style: `left:${Math.min(100, 100 * threshold / scale)}%` }));
    return h('section', { class: `candidate${i === 0 ? ' focus' : ''}`, 'data-testid': 'candidate', 'data-individual': c.individualId },
      h('h3', {}, h('span', {}, `${i + 1}. `, h('a', { href: `#/individual/${c.individualId}` }, c.name)),
        h('span', { class: `score${c.score >= threshold ? ' above' : ''}`, 'data-testid': 'match-score' }, `match score ${score(c.score)}`, h('small', {}, ` ${c.score >= threshold ? 'above' : 'below'} the threshold ${score(threshold)}`)),
        h('span', { class: 'actions' },
          h('button', { 'data-testid': 'explain', onclick: () => explainAt(i), title: 'draw the keypoints of the photo under review and its best photo that agree (key K)', disabled: !c.photos.length }, 'Matched keypoints ', h('kbd', {}, 'K')),
          h('button', { class: 'primary', 'data-testid': 'confirm', onclick: () => confirm(c), title: `confirm (key ${i + 1})` }, 'Confirm ', h('kbd', {}, String(i + 1))))),
      bar, matcherScores(c, ident.matcher), earlierSightings(sightings[i]),
      h('div', { class: 'row' }, c.photos.map((p) => h('figure', {},
        h('button', { class: 'photo-button', onclick: () => compare(c, p), title: 'compare side by side at full resolution', 'data-testid': 'compare-open' }, crop(p.photoId, 320)),
        h('figcaption', { class: 'meta' }, `#${p.photoId} · score ${score(p.score)} · `, h('a', { href: '#', onclick: (e) => { e.preventDefault(); compare(c, p); } }, 'compare'))))));
  });
  const status = photo.status === 'pending' ? '' : h('p', { class: 'muted', 'data-testid': 'status' }, `Already ${photo.status}${photo.individualId ? ` (${names.get(photo.individualId) ?? `individual ${photo.individualId}`})` : ''}; a new decision replaces it.`);
  const shown = render(screen, h('div', { class: 'review' },
    h('div', { class: 'query' }, h('h2', {}, `Photo #${photo.id}`, h('small', { class: 'muted' }, ` ${photo.originalName} · ${photo.width}×${photo.height}`)),
      crop(photo.id, 640, { 'data-testid': 'query-crop' }),
      h('p', { class: 'muted', 'data-testid': 'box-words' }, boxWords(photo), ' ', h('button', { onclick: () => openBoxEditor(photo, rerender), 'data-testid': 'edit-box' }, photo.box ? 'Move or redraw the box' : 'Draw the fluke box')),
      status,
      ident.error ? h('p', { class: 'suggest-new', 'data-testid': processing ? 'processing' : 'candidates-error' }, ident.error) : h('p', { class: ident.suggestion === 'new' ? 'suggest-new' : 'muted', 'data-testid': 'suggestion' },
        ident.suggestion === 'new' ? `No candidate reaches the threshold (match score ${score(threshold)}): probably a new individual.` : `The best match is above the threshold (match score ${score(threshold)}).`,
        ` Compared with ${ident.compared} catalog photos in scope. A match score is the model's measure of likeness, not a probability.`),
      scopeBlock(ident, photo, rerender),
      h('div', { class: 'actions' },
        h('button', { class: 'new', 'data-testid': 'new-individual', onclick: newIndividual }, 'New individual ', h('kbd', {}, 'N')),
        h('button', { 'data-testid': 'skip', onclick: skip }, 'Skip ', h('kbd', {}, 'S')),
        h('button', { onclick: next }, 'Next ', h('kbd', {}, 'J')),
        h('button', { 'data-testid': 'undo', onclick: undoLast, disabled: review.lastDecided === null, title: review.lastDecided === null ? 'nothing decided on this page yet' : `undo the decision on photo #${review.lastDecided}` }, 'Undo ', h('kbd', {}, 'U'))),
      h('p', { class: 'muted', 'data-testid': 'keys' }, 'Keys: 1–5 confirm that candidate, ↑/↓ move, Enter confirms the highlighted one, K shows or hides the keypoints it matched (lines between the crops), N new, S skip, J next, U undo the last decision.'),
      detailsBlock(photo, rerender), await sightingBlock(photo, rerender), historyBlock(photo, decisions, names, rerender)),
    h('div', {}, h('h2', {}, 'Candidates'), rows.length ? rows : h('p', { class: 'muted' }, 'No candidates (empty catalog or no model).'))));
  if (!shown) return;
  if (processing) setTimeout(() => { if (window.location.hash === `#/review/${photoId}`) rerender(); }, 2000);
  const setFocus = (i) => { focus = Math.max(0, Math.min(rows.length - 1, i)); rows.forEach((r, j) => r.classList.toggle('focus', j === focus)); if (explained) showExplained(); rows[focus]?.scrollIntoView({ block: 'nearest' }); };
  review.keyHandler = (e) => {
    const n = Number(e.key);
    if (n >= 1 && n <= candidates.length) confirm(candidates[n - 1]);
    else if (e.key === 'ArrowDown') { e.preventDefault(); setFocus(focus + 1); }
    else if (e.key === 'ArrowUp') { e.preventDefault(); setFocus(focus - 1); }
    else if (e.key === 'Enter' && candidates[focus]) confirm(candidates[focus]);
    else if (e.key === 'n' || e.key === 'N') newIndividual();
    else if (e.key === 's' || e.key === 'S') skip();
    else if (e.key === 'j' || e.key === 'J') next();
    else if (e.key === 'k' || e.key === 'K') { explained = !explained; showExplained(); }
  };
}
