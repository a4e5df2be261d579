// The individuals: a list with thumbnails and when each was last seen, and an individual's page
// with its sightings on a map, its photos, notes, and merging another individual picked by name.
import { api, beginScreen, crop, go, h, render, toast, when, where } from './dom.js';


export async function showIndividuals(search = '') {
  const screen = beginScreen();
  const list = await api('GET', `/api/individuals?limit=500${search ? `&q=${encodeURIComponent(search)}` : ''}`);
  const box = h('input', { type: 'search', placeholder: 'search name or notes', value: search, 'data-testid': 'search' });
  box.addEventListener('change', () => showIndividuals(box.value));
  const rows = list.items.map((i) => h('tr', { 'data-testid': 'individual-row' },
    h('td', {}, i.coverPhotoId ? h('a', { href: `#/individual/${i.id}` }, crop(i.coverPhotoId, 160, { class: 'thumb', 'data-testid': 'thumbnail' })) : ''),
    h('td', {}, h('a', { href: `#/individual/${i.id}` }, i.name)),
    h('td', {}, i.photoCount ?? ''),
    h('td', { 'data-testid': 'last-seen' }, i.lastSeen ? i.lastSeen.slice(0, 10) : h('span', { class: 'muted' }, 'no date')),
    h('td', { class: 'muted' }, i.notes)));
  render(screen, h('h1', {}, 'Individuals'),
    h('p', { class: 'toolbar' }, box, h('span', { class: 'muted' }, ` ${list.total} individual(s) `),
      h('a', { class: 'button', href: '/api/export.csv', download: 'catalog.csv', 'data-testid': 'export' }, 'Export the catalog (CSV)')),
    h('table', { class: 'individuals' }, h('tr', {}, h('th', {}, ''), h('th', {}, 'Name'), h('th', {}, 'Photos'), h('th', {}, 'Last seen'), h('th', {}, 'Notes')), rows));
}

/** The individual's sightings as a table: date, place, position, photos; `#` is the sighting's number on the map. */
function sightingsTable(sightings) {
  if (!sightings.length) return h('p', { class: 'muted' }, 'No photos yet.');
  // the map numbers the sightings with a position, oldest first
  const located = sightings.filter((s) => s.latitude !== null && s.longitude !== null);
  const onMap = new Map(located.reverse().map((s, i) => [s, i + 1]));
  return h('table', { 'data-testid': 'sightings' }, h('tr', {}, h('th', { title: 'number on the map' }, '#'), h('th', {}, 'Date'), h('th', {}, 'Place'), h('th', {}, 'Position'), h('th', {}, 'Photos')),
    sightings.map((s) => h('tr', { 'data-testid': 'sighting' },
      h('td', {}, onMap.has(s) ? String(onMap.get(s)) : ''),
      h('td', {}, s.encounterId === null ? h('span', { class: 'muted' }, 'not in a sighting') : when(s.date)),
      h('td', {}, s.location ?? ''),
      h('td', {}, where(s.latitude, s.longitude) ?? h('span', { class: 'muted' }, 'no position')),
      h('td', {}, s.photoIds.map((id) => h('a', { href: `#/review/${id}` }, crop(id, 96, { class: 'thumb' })))))));
}

/** Merging another individual into this one, picked by name from the matches (never typed as an id). */
function mergeForm(ind) {
  const name = h('input', { type: 'search', placeholder: 'type a name', 'data-testid': 'merge-name', autocomplete: 'off', size: 24 });
  const matches = h('div', { class: 'merge-matches', 'data-testid': 'merge-matches' });
  const button = h('button', { 'data-testid': 'merge', disabled: true }, 'Merge');
  let all = null;
  let chosen = null;
  const choose = (other) => {
    chosen = other;
    name.value = other.name;
    matches.replaceChildren();
    button.disabled = false;
    button.textContent = `Merge ${other.name} into ${ind.name}`;
  };
  name.addEventListener('input', async () => {
    chosen = null;
    button.disabled = true;
    button.textContent = 'Merge';
    all ??= (await api('GET', '/api/individuals?limit=1000')).items.filter((i) => i.id !== ind.id);
    const text = name.value.trim().toLowerCase();
    const found = text ? all.filter((i) => i.name.toLowerCase().includes(text)).slice(0, 8) : [];
    matches.replaceChildren(...found.map((i) => h('button', { class: 'merge-match', 'data-testid': 'merge-match', onclick: () => choose(i) },
      i.coverPhotoId ? crop(i.coverPhotoId, 96, { class: 'thumb' }) : '', ` ${i.name} · ${i.photoCount} photo(s)${i.lastSeen ? ` · last seen ${i.lastSeen.slice(0, 10)}` : ''}`)),
    text && !found.length ? h('span', { class: 'muted' }, 'no other individual has that name') : '');
  });
  button.addEventListener('click', async () => {
    if (!chosen) return;
    if (!window.confirm(`Merge ${chosen.name} (${chosen.photoCount} photo(s)) into ${ind.name}? Its photos move to ${ind.name}; ${chosen.name} is kept, marked as merged.`)) return;
    try {
      await api('POST', `/api/individuals/${ind.id}/merge`, { from: chosen.id });
      toast(`${chosen.name} merged into ${ind.name}`);
      go(`#/individual/${ind.id}`);
    } catch (e) { toast(e.message, true); }
  });
  return h('section', { class: 'merge' }, h('h2', {}, 'Merge'), h('p', {}, 'Same animal as another individual? Pick it by name: ', name, ' ', button), matches);
}

export async function showIndividual(id) {
  const screen = beginScreen();
  const [ind, sightings] = await Promise.all([api('GET', `/api/individuals/${id}`), api('GET', `/api/individuals/${id}/sightings`)]);
  const notes = h('textarea', { rows: 2, cols: 60 }, ind.notes);
  const save = async () => {
    try { await api('PATCH', `/api/individuals/${id}`, { notes: notes.value }); toast('saved'); } catch (e) { toast(e.message, true); }
  };
  const located = sightings.filter((s) => s.latitude !== null);
  const dated = sightings.filter((s) => s.date).map((s) => s.date).sort();
  render(screen, h('h1', { 'data-testid': 'individual-name' }, ind.name),
    ind.mergedInto ? h('p', { class: 'suggest-new' }, 'Merged into ', h('a', { href: `#/individual/${ind.mergedInto}` }, `individual ${ind.mergedInto}`)) : '',
    h('p', { class: 'muted' }, `${ind.photos.length} photo(s) in ${sightings.filter((s) => s.encounterId !== null).length} sighting(s)`,
      dated.length ? ` · first seen ${dated[0].slice(0, 10)}, last seen ${dated.at(-1).slice(0, 10)}` : '', ` · created ${ind.createdAt.slice(0, 10)} by ${ind.createdBy || '?'}`),
    h('p', {}, notes, ' ', h('button', { onclick: save }, 'Save notes')),
    h('div', { class: 'individual' },
      h('section', {}, h('h2', {}, 'Sightings'),
        located.length ? h('img', { class: 'map', src: `/api/individuals/${id}/map.svg`, alt: `map of the sightings of ${ind.name}`, 'data-testid': 'map' }) : h('p', { class: 'muted', 'data-testid': 'no-map' }, 'No sighting has a position yet: the map appears when photos carry GPS or one is entered.'),
        sightingsTable(sightings)),
      h('section', {}, h('h2', {}, 'Photos'),
        h('div', { class: 'grid' }, ind.photos.map((p) => h('a', { class: 'card', href: `#/review/${p.id}`, 'data-testid': 'individual-photo', 'data-photo': p.id }, crop(p.id, 320), h('div', { class: 'meta' }, `#${p.id} ${p.originalName}`, p.takenOn ? ` · ${when(p.takenOn)}` : '')))))),
    ind.mergedInto ? '' : mergeForm(ind));
}
