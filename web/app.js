// whaleid review page: upload photos, review proposed matches, decide, browse individuals.
// Plain DOM, no build step; every text from the catalog goes through textContent (never HTML).

const $ = (sel) => document.querySelector(sel);
const view = $('#view');
const tokenInput = $('#token');
const userInput = $('#user');
tokenInput.value = localStorage.getItem('whaleid.token') ?? '';
userInput.value = localStorage.getItem('whaleid.user') ?? '';
tokenInput.addEventListener('change', () => { localStorage.setItem('whaleid.token', tokenInput.value); refreshMode(); });
userInput.addEventListener('change', () => localStorage.setItem('whaleid.user', userInput.value));

/** Builds an element: h('div', { class: 'x', onclick: f }, 'text', child). */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

function toast(text, error = false) {
  const t = $('#toast');
  t.textContent = text;
  t.className = `show${error ? ' error' : ''}`;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.className = ''; }, error ? 5000 : 2000);
}

async function api(method, url, body) {
  const headers = {};
  if (tokenInput.value) headers.authorization = `Bearer ${tokenInput.value}`;
  if (userInput.value) headers['x-whaleid-user'] = userInput.value;
  let payload;
  if (body instanceof FormData) payload = body;
  else if (body !== undefined) { headers['content-type'] = 'application/json'; payload = JSON.stringify(body); }
  const res = await fetch(url, { method, headers, body: payload });
  const data = res.headers.get('content-type')?.includes('json') ? await res.json() : await res.text();
  if (!res.ok && !(data && data.results)) throw new Error((data && data.error) || `${res.status} ${res.statusText}`);
  return data;
}

const crop = (photoId, width = 384) => h('img', { class: 'crop', src: `/api/photos/${photoId}/crop.jpg?width=${width}`, alt: `photo ${photoId}`, loading: 'lazy' });
const pct = (x) => `${(100 * x).toFixed(1)}%`;

async function refreshMode() {
  const health = await api('GET', '/api/health');
  const mode = $('#mode');
  mode.textContent = health.readOnly ? 'read-only service' : tokenInput.value ? 'token set' : 'no token: view only';
  return health;
}

// ---------- queue + upload ----------
async function showQueue() {
  const pending = await api('GET', '/api/photos?status=pending&limit=200');
  const drop = h('div', { class: 'drop', 'data-testid': 'drop' },
    h('p', {}, 'Drop the day\'s photos here, or ', h('label', {}, h('u', {}, 'choose files'), h('input', { type: 'file', id: 'files', multiple: true, accept: 'image/jpeg,image/png,image/webp,image/tiff', hidden: true, onchange: (e) => upload(e.target.files) }))),
    h('p', { class: 'muted' }, 'Optional: ', h('input', { id: 'takenOn', type: 'date', title: 'date taken' }), ' ', h('input', { id: 'location', placeholder: 'location' })));
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => { e.preventDefault(); drop.classList.remove('over'); upload(e.dataTransfer.files); });
  const cards = pending.items.map((p) => h('a', { class: 'card', href: `#/review/${p.id}`, 'data-testid': 'pending' }, crop(p.id, 320), h('div', { class: 'meta' }, `#${p.id} ${p.originalName}`, p.location ? ` · ${p.location}` : '')));
  view.replaceChildren(h('h1', {}, 'Review queue'), drop,
    h('p', { class: 'muted' }, `${pending.total} photo(s) waiting for review. `, pending.total ? h('a', { href: `#/review/${pending.items[0].id}` }, 'Start reviewing') : '',
      lastDecided === null ? '' : h('button', { 'data-testid': 'undo', onclick: undoLast, style: 'margin-left:1rem' }, `Undo the last decision (photo #${lastDecided})`)),
    h('div', { class: 'grid' }, cards));
}

async function upload(files) {
  if (!files || !files.length) return;
  const form = new FormData();
  const takenOn = $('#takenOn')?.value;
  const location = $('#location')?.value;
  if (takenOn) form.append('takenOn', takenOn);
  if (location) form.append('location', location);
  if (userInput.value) form.append('by', userInput.value);
  for (const f of files) form.append('photo', f, f.name);
  toast(`uploading ${files.length} photo(s)…`);
  try {
    const { results } = await api('POST', '/api/photos', form);
    const bad = results.filter((r) => !r.ok);
    if (bad.length) toast(bad.map((r) => r.error).join(' · '), true);
    else toast(`${results.length} photo(s) uploaded`);
    const first = results.find((r) => r.ok && r.photo.status === 'pending');
    if (first) location_(`#/review/${first.photo.id}`);
    else route();
  } catch (e) {
    toast(e.message, true);
  }
}
const location_ = (hash) => { if (window.location.hash === hash) route(); else window.location.hash = hash; };

// ---------- review ----------
let keyHandler = null;
/** The photo this page decided last: what Undo reverts (then it is shown again for review). */
let lastDecided = null;
async function undoLast() {
  if (lastDecided === null) return;
  const photoId = lastDecided;
  try {
    await api('POST', `/api/photos/${photoId}/undo`, {});
    lastDecided = null;
    toast(`undone: photo #${photoId}`);
    location_(`#/review/${photoId}`);
  } catch (e) {
    toast(e.message, true);
  }
}
async function showReview(photoId) {
  const [photo, ident] = await Promise.all([api('GET', `/api/photos/${photoId}`), api('GET', `/api/photos/${photoId}/candidates?k=5`).catch((e) => ({ error: e.message }))]);
  const candidates = ident.candidates ?? [];
  let focus = 0;
  const next = async () => {
    const q = await api('GET', '/api/photos?status=pending&limit=1000');
    const after = q.items.find((p) => p.id > photoId) ?? q.items.find((p) => p.id !== photoId);
    location_(after ? `#/review/${after.id}` : '#/');
  };
  const decide = async (fn, message) => {
    try { await fn(); lastDecided = photoId; toast(`${message} (U: undo)`); await next(); } catch (e) { toast(e.message, true); }
  };
  const confirm = (c) => decide(() => api('POST', `/api/photos/${photoId}/confirm`, { individualId: c.individualId, score: c.score }), `confirmed: ${c.name}`);
  const newIndividual = () => {
    const name = prompt('Name of the new individual (empty: automatic W-number)', '') ;
    if (name === null) return;
    return decide(() => api('POST', `/api/photos/${photoId}/new-individual`, { name }), 'new individual created');
  };
  const skip = () => decide(() => api('POST', `/api/photos/${photoId}/skip`, {}), 'skipped');
  const rows = candidates.map((c, i) => h('section', { class: `candidate${i === 0 ? ' focus' : ''}`, 'data-testid': 'candidate', 'data-individual': c.individualId },
    h('h3', {}, h('span', {}, `${i + 1}. `, h('a', { href: `#/individual/${c.individualId}` }, c.name)), h('span', { class: 'score' }, pct(c.score)),
      h('button', { class: 'primary', 'data-testid': 'confirm', onclick: () => confirm(c), title: `confirm (key ${i + 1})` }, 'Confirm ', h('kbd', {}, String(i + 1)))),
    h('div', { class: 'bar' }, h('span', { style: `width:${Math.max(2, 100 * c.score)}%` })),
    h('div', { class: 'row' }, c.photos.map((p) => h('figure', { style: 'margin:0' }, crop(p.photoId, 320), h('figcaption', { class: 'meta' }, `#${p.photoId} · ${pct(p.score)}`))))));
  const status = photo.status === 'pending' ? '' : h('p', { class: 'muted' }, `Already ${photo.status}${photo.individualId ? ` (individual ${photo.individualId})` : ''}; a new decision replaces it.`);
  view.replaceChildren(h('div', { class: 'review' },
    h('div', { class: 'query' }, h('h2', {}, `Photo #${photo.id}`), crop(photo.id, 640),
      h('div', { class: 'meta' }, photo.originalName, photo.takenOn ? ` · ${photo.takenOn}` : '', photo.location ? ` · ${photo.location}` : '', ` · ${photo.width}×${photo.height} · box: ${photo.boxSource}`),
      status,
      ident.error ? h('p', { class: 'suggest-new' }, ident.error) : h('p', { class: ident.suggestion === 'new' ? 'suggest-new' : 'muted', 'data-testid': 'suggestion' },
        ident.suggestion === 'new' ? `No candidate reaches the model's threshold (${pct(ident.threshold)}): probably a new individual.` : `Best match above the threshold (${pct(ident.threshold)}).`, ` Compared with ${ident.compared} catalog photos.`),
      h('div', { class: 'actions' },
        h('button', { class: 'new', 'data-testid': 'new-individual', onclick: newIndividual }, 'New individual ', h('kbd', {}, 'N')),
        h('button', { 'data-testid': 'skip', onclick: skip }, 'Skip ', h('kbd', {}, 'S')),
        h('button', { onclick: next }, 'Next ', h('kbd', {}, 'J')),
        h('button', { 'data-testid': 'undo', onclick: undoLast, disabled: lastDecided === null, title: lastDecided === null ? 'nothing decided on this page yet' : `undo the decision on photo #${lastDecided}` }, 'Undo ', h('kbd', {}, 'U'))),
      h('p', { class: 'muted' }, 'Keys: 1–5 confirm that candidate, ↑/↓ move, Enter confirms the highlighted one, N new, S skip, J next, U undo the last decision.')),
    h('div', {}, h('h2', {}, 'Candidates'), rows.length ? rows : h('p', { class: 'muted' }, 'No candidates (empty catalog or no model).'))));
  const setFocus = (i) => { focus = Math.max(0, Math.min(rows.length - 1, i)); rows.forEach((r, j) => r.classList.toggle('focus', j === focus)); rows[focus]?.scrollIntoView({ block: 'nearest' }); };
  keyHandler = (e) => {
    if (e.target instanceof HTMLInputElement || e.target instanceof HTMLTextAreaElement || e.ctrlKey || e.metaKey || e.altKey) return;
    const n = Number(e.key);
    if (n >= 1 && n <= candidates.length) confirm(candidates[n - 1]);
    else if (e.key === 'ArrowDown') { e.preventDefault(); setFocus(focus + 1); }
    else if (e.key === 'ArrowUp') { e.preventDefault(); setFocus(focus - 1); }
    else if (e.key === 'Enter' && candidates[focus]) confirm(candidates[focus]);
    else if (e.key === 'n' || e.key === 'N') newIndividual();
    else if (e.key === 's' || e.key === 'S') skip();
    else if (e.key === 'j' || e.key === 'J') next();
  };
}

// ---------- individuals ----------
async function showIndividuals(search = '') {
  const list = await api('GET', `/api/individuals?limit=500${search ? `&q=${encodeURIComponent(search)}` : ''}`);
  const box = h('input', { type: 'search', placeholder: 'search name or notes', value: search, 'data-testid': 'search' });
  box.addEventListener('change', () => showIndividuals(box.value));
  view.replaceChildren(h('h1', {}, 'Individuals'), h('p', {}, box, h('span', { class: 'muted' }, ` ${list.total} individual(s)`)),
    h('table', {}, h('tr', {}, h('th', {}, 'Name'), h('th', {}, 'Photos'), h('th', {}, 'Notes')),
      list.items.map((i) => h('tr', {}, h('td', {}, h('a', { href: `#/individual/${i.id}` }, i.name)), h('td', {}, i.photoCount ?? ''), h('td', { class: 'muted' }, i.notes)))));
}

async function showIndividual(id) {
  const ind = await api('GET', `/api/individuals/${id}`);
  const other = h('input', { type: 'number', min: 1, placeholder: 'individual id', size: 8 });
  const merge = async () => {
    try { await api('POST', `/api/individuals/${id}/merge`, { from: Number(other.value) }); toast('merged'); route(); } catch (e) { toast(e.message, true); }
  };
  const notes = h('textarea', { rows: 2, cols: 60 }, ind.notes);
  const save = async () => {
    try { await api('PATCH', `/api/individuals/${id}`, { notes: notes.value }); toast('saved'); } catch (e) { toast(e.message, true); }
  };
  view.replaceChildren(h('h1', { 'data-testid': 'individual-name' }, ind.name),
    ind.mergedInto ? h('p', { class: 'suggest-new' }, 'Merged into ', h('a', { href: `#/individual/${ind.mergedInto}` }, `individual ${ind.mergedInto}`)) : '',
    h('p', { class: 'muted' }, `id ${ind.id} · created ${ind.createdAt.slice(0, 10)} by ${ind.createdBy || '?'} · ${ind.photos.length} photo(s)`),
    h('p', {}, notes, ' ', h('button', { onclick: save }, 'Save notes')),
    h('div', { class: 'grid' }, ind.photos.map((p) => h('a', { class: 'card', href: `#/review/${p.id}`, 'data-testid': 'individual-photo', 'data-photo': p.id }, crop(p.id, 320), h('div', { class: 'meta' }, `#${p.id} ${p.originalName}`, p.takenOn ? ` · ${p.takenOn}` : '')))),
    h('p', { style: 'margin-top:1.5rem' }, 'Merge another individual into this one: ', other, ' ', h('button', { onclick: merge }, 'Merge')));
}

// ---------- routing ----------
async function route() {
  keyHandler = null;
  const hash = window.location.hash || '#/';
  document.querySelectorAll('nav a').forEach((a) => a.classList.toggle('active', hash === '#/' ? a.dataset.nav === 'queue' : hash.startsWith(`#/${a.dataset.nav}`)));
  try {
    let m;
    if ((m = /^#\/review\/(\d+)$/.exec(hash))) await showReview(Number(m[1]));
    else if ((m = /^#\/individual\/(\d+)$/.exec(hash))) await showIndividual(Number(m[1]));
    else if (hash.startsWith('#/individuals')) await showIndividuals();
    else await showQueue();
  } catch (e) {
    view.replaceChildren(h('p', { class: 'suggest-new' }, e.message));
  }
  // keyboard review works at once after every navigation, wherever the focus was
  if (document.activeElement instanceof HTMLInputElement) document.activeElement.blur();
  view.focus({ preventScroll: true });
}
document.addEventListener('keydown', (e) => {
  // U undoes the page's last decision wherever the reviewer is (the queue too, after the last photo)
  const typing = e.target instanceof HTMLInputElement || e.target instanceof HTMLTextAreaElement || e.ctrlKey || e.metaKey || e.altKey;
  if (!typing && (e.key === 'u' || e.key === 'U')) undoLast();
  else keyHandler?.(e);
});
window.addEventListener('hashchange', route);
refreshMode().catch(() => {});
route();
