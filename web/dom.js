// Shared helpers of the review page: elements, the API client, messages, and the plain words the
// page uses for scores, boxes, dates and positions. Every text from the catalog goes through
// textContent (never HTML).

export const $ = (sel) => document.querySelector(sel);

/**
 * Builds an element: h('div', { class: 'x', onclick: f }, 'text', child). `style` is applied
 * through the CSSOM (allowed by a content security policy that forbids style attributes).
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'style') el.style.cssText = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

export function toast(text, error = false) {
  const t = $('#toast');
  t.textContent = text;
  t.className = `show${error ? ' error' : ''}`;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.className = ''; }, error ? 5000 : 2500);
}

/** Calls the API with the page's token and user name; throws the service's one-line error. */
export async function api(method, url, body) {
  const headers = {};
  const token = $('#token').value;
  const user = $('#user').value;
  if (token) headers.authorization = `Bearer ${token}`;
  if (user) headers['x-whaleid-user'] = user;
  let payload;
  if (body instanceof FormData) payload = body;
  else if (body !== undefined) { headers['content-type'] = 'application/json'; payload = JSON.stringify(body); }
  const res = await fetch(url, { method, headers, body: payload });
  const data = res.headers.get('content-type')?.includes('json') ? await res.json() : await res.text();
  if (!res.ok && !(data && data.results)) throw new Error((data && data.error) || `${res.status} ${res.statusText}`);
  return data;
}

/** The review crop of a photo (the fluke box with the model's margin), `width` pixels wide. */
export const crop = (photoId, width = 384, attrs = {}) => h('img', { class: 'crop', src: `/api/photos/${photoId}/crop.jpg?width=${width}`, alt: `photo ${photoId}`, loading: 'lazy', ...attrs });

/**
 * A match score as a reviewer reads it: a number on the model's own scale (not a probability),
 * always beside the threshold the model uses to call a photo a new individual.
 */
export const score = (x) => x.toFixed(3);

/** The fluke box of a photo in plain words. */
export function boxWords(photo) {
  return {
    none: 'No fluke box yet: the whole photo is compared. Drawing one gives better matches.',
    csv: "Fluke box from the dataset's box file.",
    model: 'Fluke box found automatically by the fluke detector.',
    user: 'Fluke box drawn by hand.',
  }[photo.boxSource] ?? '';
}

/** A date taken as `2021-07-03 09:15` (the camera's clock: no time zone). */
export const when = (takenOn) => (takenOn ? takenOn.replace('T', ' ').slice(0, 16) : 'unknown');

/** A position as `25.1000° S, 152.9000° E`. */
export function where(latitude, longitude) {
  if (latitude === null || latitude === undefined || longitude === null || longitude === undefined) return null;
  return `${Math.abs(latitude).toFixed(4)}° ${latitude < 0 ? 'S' : 'N'}, ${Math.abs(longitude).toFixed(4)}° ${longitude < 0 ? 'W' : 'E'}`;
}

/** Where a detail came from, in words. */
export const sourceWords = (source, what) => (source === 'exif' ? `from the camera's ${what}` : source === 'user' ? 'entered by hand' : '');

let screens = 0;
/** Starts building a screen: a later screen started before this one is shown wins (a slow screen never replaces a newer one). */
export const beginScreen = () => ++screens;
/** Shows a screen's content unless a newer screen was started meanwhile; returns whether it was shown. */
export function render(screen, ...nodes) {
  if (screen !== screens) return false;
  $('#view').replaceChildren(...nodes);
  return true;
}

/** Goes to a page of the app (re-rendering it when it is the current one). */
export function go(hash) {
  if (window.location.hash === hash) window.dispatchEvent(new HashChangeEvent('hashchange'));
  else window.location.hash = hash;
}

/** A full-screen panel over the page, closed by its button, Escape or a click outside; returns its close function. */
export function overlay(title, body, o = {}) {
  const close = () => { panel.remove(); document.removeEventListener('keydown', onKey, true); o.onClose?.(); };
  const onKey = (e) => { if (e.key === 'Escape') { e.stopPropagation(); close(); } };
  const panel = h('div', { class: 'overlay', 'data-testid': o.testid, onclick: (e) => { if (e.target === panel) close(); } },
    h('div', { class: 'overlay-box' }, h('div', { class: 'overlay-head' }, h('h2', {}, title), h('button', { onclick: close, 'data-testid': 'close' }, 'Close ', h('kbd', {}, 'Esc'))), body));
  document.addEventListener('keydown', onKey, true);
  document.body.append(panel);
  return close;
}
