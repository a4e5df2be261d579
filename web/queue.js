// The review queue: dropping the day's photos (their date and position come from the camera's
// EXIF; what is typed here wins) and the photos waiting for a decision.
import { $, api, beginScreen, crop, go, h, render, toast, when } from './dom.js';
import { review, undoLast } from './review.js';

export async function showQueue() {
  const screen = beginScreen();
  const pending = await api('GET', '/api/photos?status=pending&limit=200');
  const drop = h('div', { class: 'drop', 'data-testid': 'drop' },
    h('p', {}, 'Drop the day\'s photos here, or ', h('label', {}, h('u', {}, 'choose files'), h('input', { type: 'file', id: 'files', multiple: true, accept: 'image/jpeg,image/png,image/webp,image/tiff', hidden: true, onchange: (e) => upload(e.target.files) }))),
    h('p', { class: 'muted' }, 'Date and GPS position are read from each photo\'s EXIF. Only if they lack them or are wrong: ',
      h('input', { id: 'takenOn', type: 'date', title: 'date taken, for every photo of this upload' }), ' ', h('input', { id: 'location', placeholder: 'place name' })));
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => { e.preventDefault(); drop.classList.remove('over'); upload(e.dataTransfer.files); });
  const cards = pending.items.map((p) => h('a', { class: 'card', href: `#/review/${p.id}`, 'data-testid': 'pending' }, crop(p.id, 320),
    h('div', { class: 'meta' }, `#${p.id} ${p.originalName}`, p.takenOn ? ` · ${when(p.takenOn)}` : '', p.location ? ` · ${p.location}` : '',
      p.processing ? h('span', { class: 'processing', 'data-testid': 'processing', title: 'a worker has not extracted its features yet: its candidates come when it has' }, ' · being processed') : '',
      p.extractionFailed ? h('span', { class: 'failed', 'data-testid': 'extraction-failed', title: p.extractionFailed }, ` · features failed: ${p.extractionFailed}`) : '')));
  render(screen, h('h1', {}, 'Review queue'), drop,
    h('p', { class: 'muted' }, `${pending.total} photo(s) waiting for review. `, pending.total ? h('a', { href: `#/review/${pending.items[0].id}` }, 'Start reviewing') : '',
      review.lastDecided === null ? '' : h('button', { 'data-testid': 'undo', onclick: undoLast, style: 'margin-left:1rem' }, `Undo the last decision (photo #${review.lastDecided})`)),
    h('div', { class: 'grid' }, cards));
}

async function upload(files) {
  if (!files || !files.length) return;
  const form = new FormData();
  const takenOn = $('#takenOn')?.value;
  const location = $('#location')?.value;
  if (takenOn) form.append('takenOn', takenOn);
  if (location) form.append('location', location);
  if ($('#user').value) form.append('by', $('#user').value);
  for (const f of files) form.append('photo', f, f.name);
  toast(`uploading ${files.length} photo(s)…`);
  try {
    const { results } = await api('POST', '/api/photos', form);
    const bad = results.filter((r) => !r.ok);
    if (bad.length) toast(bad.map((r) => r.error).join(' · '), true);
    else toast(`${results.length} photo(s) uploaded`);
    const first = results.find((r) => r.ok && r.photo.status === 'pending');
    go(first ? `#/review/${first.photo.id}` : '#/');
  } catch (e) {
    toast(e.message, true);
  }
}
