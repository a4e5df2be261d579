import { describe, it, expect } from 'vitest';
import { TRAIN_RECIPES, applyRecipe } from '../../src/train/recipes.js';
import { resolveTrainConfig, viewRegExp } from '../../src/train/train-config.js';
import { resolveSchedule, totalEpochs } from '../../src/train/schedule.js';
import { MODEL_PRESETS, createBranch } from '../../src/model/network/branch.js';

describe('training recipes', () => {
  it('every recipe is a valid configuration with a valid schedule that starts on random negatives', () => {
    expect(Object.keys(TRAIN_RECIPES).sort()).toEqual(['demo', 'nyala', 'omniglot', 'synthetic']);
    for (const [name, r] of Object.entries(TRAIN_RECIPES)) {
      expect(r.name).toBe(name);
      const c = resolveTrainConfig(applyRecipe(name, { data: 'x' }));
      expect(c.recipe).toBe(name);
      const s = resolveSchedule(c.schedule);
      expect(totalEpochs(s) + c.warmupEpochs).toBeGreaterThan(4); // the warm-up trains the branch too
      expect(s.groups[0].K).toBeGreaterThanOrEqual(100); // easy pairs first: hard ones stall a fresh model
      expect(c.maxMinutes).toBeLessThanOrEqual(60);
      // the input size is one the preset accepts
      expect(() => createBranch({ preset: c.preset, inputSize: c.inputSize })).not.toThrow();
    }
  });

  it("the demo's schedule reaches the LAP-mined pairs within its budget", () => {
    // measured before: the demo trained ~3.7 epochs/min on 2 cores with the wasm engine (22 epochs in 6 min)
    const s = resolveSchedule(resolveTrainConfig(applyRecipe('demo', { data: 'x' })).schedule);
    const firstHard = s.groups.findIndex((g) => g.K < 1000);
    const epochsBefore = s.groups.slice(0, firstHard).reduce((n, g) => n + g.epochs, 0);
    expect(firstHard).toBeGreaterThan(0);
    expect(epochsBefore).toBeLessThanOrEqual(12);
    expect(totalEpochs(s)).toBeLessThanOrEqual(22);
    expect(s.groups.filter((g) => g.K <= 10).length).toBeGreaterThanOrEqual(3);
  });

  it('explicit settings win over the recipe, undefined ones do not', () => {
    const c = applyRecipe('omniglot', { data: 'd', maxMinutes: 20, inputSize: undefined, seed: 4 });
    expect(c.maxMinutes).toBe(20);
    expect(c.seed).toBe(4);
    expect(c.inputSize).toBe(TRAIN_RECIPES.omniglot.settings.inputSize);
    expect(c.data).toBe('d');
    expect(c.aspect).toBe(1);
    expect(c.dedup).toBe(false);
  });

  it('applying a recipe never changes the recipe itself', () => {
    const before = JSON.stringify(TRAIN_RECIPES.nyala);
    const c = applyRecipe('nyala', { data: 'd' });
    (c.schedule as { groups: { lr: number }[] }).groups[0].lr = 99;
    expect(JSON.stringify(TRAIN_RECIPES.nyala)).toBe(before);
  });

  it('an unknown recipe is an error naming the known ones', () => {
    expect(() => applyRecipe('whales', { data: 'd' })).toThrow(/omniglot, nyala, synthetic, demo for recipe.*whales/);
  });

  it('the small preset is 4x tiny in width with the same shape', () => {
    expect(MODEL_PRESETS.small.stages.map((s) => s.subblocks)).toEqual(MODEL_PRESETS.tiny.stages.map((s) => s.subblocks));
    expect(createBranch({ preset: 'small' }).countParams()).toBe(62304);
  });

  it('a view pattern must be a valid regular expression; its first match is the view', () => {
    expect(() => resolveTrainConfig({ data: 'x', viewPattern: '(left' })).toThrow(/Expected a valid regular expression for viewPattern but received "\(left"/);
    expect(() => resolveTrainConfig({ data: 'x', viewPattern: '' })).toThrow(/non-empty regular expression for viewPattern/);
    expect(viewRegExp('left|right').exec('100/124_RightPhoto.jpg')?.[0]).toBe('Right');
  });
});
