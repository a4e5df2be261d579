/**
 * Seeded pseudo-random numbers. Every random choice in whaleid takes a seed, and the same seed must
 * give the same result on every machine, so we use a small, fully specified generator (sfc32 with a
 * splitmix32 seeder) rather than `Math.random`. It is fast in hot loops (no allocation per draw).
 */
export interface Rng {
  /** Uniform float in [0, 1). */
  next(): number;
  /** Uniform float in [lo, hi). */
  uniform(lo: number, hi: number): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** Standard normal (Box-Muller). */
  normal(mean?: number, std?: number): number;
  /** True with probability p. */
  chance(p: number): boolean;
  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T;
  /** Fisher-Yates shuffle in place; returns the same array. */
  shuffle<T>(items: T[]): T[];
  /** A child generator whose stream depends on this one's seed and `label` only. */
  fork(label: string | number): Rng;
}

function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** 32-bit FNV-1a hash of a string, used to derive child seeds from labels. */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/**
 * Creates a seeded generator.
 *
 * @param seed - any integer (or string, hashed); the same seed gives the same stream
 * @returns an {@link Rng}
 * @example
 * const rng = createRng(42);
 * rng.uniform(-5, 5); // the same value on every run
 */
export function createRng(seed: number | string): Rng {
  const base = typeof seed === 'string' ? hashString(seed) : Math.floor(seed) >>> 0;
  const init = splitmix32(base);
  let a = init();
  let b = init();
  let c = init();
  let d = init();
  let spareNormal: number | null = null;
  const next = (): number => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) >>> 0;
    return t / 4294967296;
  };
  for (let i = 0; i < 12; i++) next();
  const rng: Rng = {
    next,
    uniform: (lo, hi) => lo + (hi - lo) * next(),
    int: (n) => Math.floor(next() * n),
    normal: (mean = 0, std = 1) => {
      if (spareNormal !== null) {
        const v = spareNormal;
        spareNormal = null;
        return mean + std * v;
      }
      let u = 0;
      while (u === 0) u = next();
      const v = next();
      const r = Math.sqrt(-2 * Math.log(u));
      spareNormal = r * Math.sin(2 * Math.PI * v);
      return mean + std * r * Math.cos(2 * Math.PI * v);
    },
    chance: (p) => next() < p,
    pick: (items) => {
      if (items.length === 0) throw new Error('pick from an empty array');
      return items[Math.floor(next() * items.length)];
    },
    shuffle: (items) => {
      for (let i = items.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        const tmp = items[i];
        items[i] = items[j];
        items[j] = tmp;
      }
      return items;
    },
    fork: (label) => createRng((hashString(`${base}:${label}`) ^ Math.imul(base, 0x27d4eb2d)) >>> 0),
  };
  return rng;
}
