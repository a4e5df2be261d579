// whaleid review page: upload photos, review proposed matches, decide, browse individuals.
// Plain DOM and ES modules, no build step; every text from the catalog goes through textContent
// (never HTML). The screens are in queue.js, review.js and individuals.js.
import { $, api, h } from './dom.js';
import { showQueue } from './queue.js';
import { review, showReview, undoLast } from './review.js';
import { showIndividual, showIndividuals } from './individuals.js';

const view = $('#view');
const tokenInput = $('#token');
const userInput = $('#user');
tokenInput.value = localStorage.getItem('whaleid.token') ?? '';
userInput.value = localStorage.getItem('whaleid.user') ?? '';
tokenInput.addEventListener('change', () => { localStorage.setItem('whaleid.token', tokenInput.value); refreshMode(); });
userInput.addEventListener('change', () => localStorage.setItem('whaleid.user', userInput.value));

/**
 * Who the token belongs to (GET /api/me), shown in the header; a read-only user's page hides
 * the controls that change the catalog (index.html's style) and ignores the deciding keys. A
 * named user's decisions carry its own name, so the free "Name" field is for the single
 * --token only (role admin, `shared`).
 */
async function refreshUser() {
  const signedIn = $('#signed-in');
  let me = null;
  if (tokenInput.value) {
    try { me = await api('GET', '/api/me'); } catch (e) { signedIn.textContent = e.message; signedIn.hidden = false; }
  }
  if (me) {
    signedIn.textContent = me.shared ? `service token (${me.role})` : `signed in: ${me.name} (${me.role})`;
    signedIn.hidden = false;
  } else if (!tokenInput.value) signedIn.hidden = true;
  if (me) document.body.dataset.role = me.role;
  else delete document.body.dataset.role;
  $('#user-label').hidden = Boolean(me && !me.shared);
  return me;
}

async function refreshMode() {
  // a refused token (revoked, mistyped) is refused on every route, /api/health too: the header
  // still says what happened
  const [health, me] = await Promise.all([api('GET', '/api/health').catch(() => null), refreshUser()]);
  $('#mode').textContent = health?.readOnly ? 'read-only service' : me?.role === 'read-only' ? 'read-only: view only' : me ? 'may decide' : tokenInput.value ? 'token refused: view only' : 'no token: view only';
  // a queued catalog without a live worker: uploads would stay "being processed" with no word
  const warning = $('#service-warning');
  warning.textContent = health?.warning ?? '';
  warning.hidden = !health?.warning;
  return health;
}

async function route() {
  review.keyHandler = null;
  const hash = window.location.hash || '#/';
  document.querySelectorAll('nav a').forEach((a) => a.classList.toggle('active', hash === '#/' ? a.dataset.nav === 'queue' : hash.startsWith(`#/${a.dataset.nav}`)));
  // the previous screen goes at once: its buttons and keys must not act while the next one loads
  // (a click meant for the last photo would decide the wrong one)
  view.replaceChildren(h('p', { class: 'muted', 'data-testid': 'loading' }, 'Loading…'));
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
  const typing = e.target instanceof HTMLInputElement || e.target instanceof HTMLTextAreaElement || e.target instanceof HTMLSelectElement || e.ctrlKey || e.metaKey || e.altKey;
  // an open panel (comparison, box editor) takes the keys
  if (typing || document.querySelector('.overlay')) return;
  // a read-only user moves and looks (arrows, J next, K keypoints) but has no key that decides
  if (document.body.dataset.role === 'read-only' && !['ArrowUp', 'ArrowDown', 'j', 'J', 'k', 'K'].includes(e.key)) return;
  // U undoes the page's last decision wherever the reviewer is (the queue too, after the last photo)
  if (e.key === 'u' || e.key === 'U') undoLast();
  else review.keyHandler?.(e);
});
window.addEventListener('hashchange', route);
refreshMode().catch(() => {});
route();
