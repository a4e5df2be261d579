import { describe, it, expect } from 'vitest';
import { boundingBox, checkScopeRequest, describeScope, haversineKm, NO_SCOPE, photoInScope, resolveScope, viewpointsCompatible, type ScopedPhoto } from '../../src/data/match-scope.js';

const query: ScopedPhoto = { species: 'Megaptera novaeangliae', viewpoint: 'left', location: 'bay', latitude: 64, longitude: -22, takenOn: '2019-07-04T10:00:00' };
const photo = (o: Partial<ScopedPhoto>): ScopedPhoto => ({ ...query, takenOn: '2019-07-04', ...o });

describe('match scope rules', () => {
  it('viewpoint table: composites by side, fluke only with fluke, unknown with any', () => {
    const yes: [string, string][] = [['left', 'left'], ['left', 'frontleft'], ['backleft', 'left'], ['frontleft', 'backleft'], ['upleft', 'left'], ['Front-Left', 'front left'], ['front', 'frontleft'], ['up', 'upfront'], ['fluke', 'fluke'], ['Fluke', 'fluke'], ['', 'right'], ['fluke', ''], ['dorsal', 'dorsal']];
    const no: [string, string][] = [['left', 'right'], ['frontleft', 'backright'], ['right', 'upleft'], ['front', 'back'], ['front', 'left'], ['fluke', 'left'], ['fluke', 'back'], ['dorsal', 'fluke'], ['leftright', 'left']];
    for (const [a, b] of yes) {
      expect(viewpointsCompatible(a, b), `${a} ~ ${b}`).toBe(true);
      expect(viewpointsCompatible(b, a), `${b} ~ ${a}`).toBe(true);
    }
    for (const [a, b] of no) {
      expect(viewpointsCompatible(a, b), `${a} !~ ${b}`).toBe(false);
      expect(viewpointsCompatible(b, a), `${b} !~ ${a}`).toBe(false);
    }
  });

  it('a known species is matched only against the same species, never another nor an unknown one', () => {
    const s = resolveScope({}, query, 'photo 1');
    expect(s).toEqual({ ...NO_SCOPE, species: 'megaptera novaeangliae', viewpoint: 'left' });
    expect(photoInScope(s, photo({ species: 'megaptera_novaeangliae' }))).toBe(true);
    expect(photoInScope(s, photo({ species: 'Orcinus orca' }))).toBe(false);
    expect(photoInScope(s, photo({ species: '' }))).toBe(false);
    expect(photoInScope(s, photo({ viewpoint: 'right' }))).toBe(false);
    expect(photoInScope(s, photo({ viewpoint: 'backleft' }))).toBe(true);
    expect(photoInScope(resolveScope({ viewpoint: 'any' }, query, 'photo 1'), photo({ viewpoint: 'right' }))).toBe(true);
    expect(() => resolveScope({ species: 'Orcinus orca' }, query, 'photo 1')).toThrow('scope species: photo 1 is Megaptera novaeangliae; it is never matched against another species (Orcinus orca)');
    expect(resolveScope({ species: 'MEGAPTERA NOVAEANGLIAE' }, query, 'photo 1').species).toBe('megaptera novaeangliae');
  });

  it('an unknown species and viewpoint admit every photo, unless a species is asked for', () => {
    const unknown = photo({ species: '', viewpoint: '' });
    expect(resolveScope({}, unknown, 'q')).toEqual(NO_SCOPE);
    const asked = resolveScope({ species: 'Orcinus orca' }, unknown, 'q');
    expect(photoInScope(asked, photo({ species: 'orcinus_orca' }))).toBe(true);
    expect(photoInScope(asked, photo({ species: 'Megaptera novaeangliae' }))).toBe(false);
  });

  it('radius by haversine, location id, dates and days around the query', () => {
    expect(haversineKm(0, 0, 0, 1)).toBeCloseTo(111.195, 2);
    expect(haversineKm(64, -22, 64, -21)).toBeCloseTo(48.75, 1);
    const near = resolveScope({ km: 50 }, query, 'q');
    expect(photoInScope(near, photo({ longitude: -21 }))).toBe(true);
    expect(photoInScope(near, photo({ longitude: -20.9 }))).toBe(false);
    expect(photoInScope(near, photo({ latitude: null, longitude: null }))).toBe(false);
    // the SQL box never cuts what the circle holds
    const b = boundingBox(near.near!);
    expect(b.minLat).toBeLessThan(64 - 50 / 111.2);
    expect(b.lon!.max).toBeGreaterThan(-21);
    expect(boundingBox({ latitude: 0, longitude: 179.9, km: 50 }).lon).toBeNull();
    const loc = resolveScope({ location: 'bay' }, query, 'q');
    expect(photoInScope(loc, photo({}))).toBe(true);
    expect(photoInScope(loc, photo({ location: 'fjord' }))).toBe(false);
    const days = resolveScope({ days: 3 }, query, 'q');
    expect(days).toMatchObject({ from: '2019-07-01', to: '2019-07-07' });
    expect(photoInScope(days, photo({ takenOn: '2019-07-07T23:59' }))).toBe(true);
    expect(photoInScope(days, photo({ takenOn: '2019-07-08' }))).toBe(false);
    expect(photoInScope(days, photo({ takenOn: null }))).toBe(false);
    const range = resolveScope({ from: '2019-01-01', to: '2019-12-31' }, query, 'q');
    expect(photoInScope(range, photo({ takenOn: '2018-12-31' }))).toBe(false);
    expect(describeScope(range)).toBe('species megaptera novaeangliae, viewpoint compatible with left, taken 2019-01-01 to 2019-12-31');
  });

  it('refuses bad values with one line naming the field', () => {
    expect(() => checkScopeRequest({ km: -1 })).toThrow('Expected a positive number of km for scope km but received -1');
    expect(() => checkScopeRequest({ days: 1.5 })).toThrow('scope days');
    expect(() => checkScopeRequest({ from: '2019-02-30' })).toThrow('Expected a day YYYY-MM-DD for scope from');
    expect(() => checkScopeRequest({ from: '2019-02-03', to: '2019-02-01' })).toThrow('scope from (2019-02-03) is after to (2019-02-01)');
    expect(() => checkScopeRequest({ days: 3, from: '2019-02-01' })).toThrow('give days');
    expect(() => checkScopeRequest({ viewpoint: 'left' as 'any' })).toThrow("Expected 'compatible' or 'any' for scope viewpoint");
    expect(() => resolveScope({ km: 5 }, photo({ latitude: null, longitude: null }), 'photo 9')).toThrow('scope km: photo 9 has no GPS position to measure 5 km from');
    expect(() => resolveScope({ days: 5 }, photo({ takenOn: null }), 'photo 9')).toThrow('scope days: photo 9 has no date to count 5 days from');
  });
});
