/** Synthetic fluke catalogs (`whaleid synth`): public API re-exports. */
export { generateSynthCatalog, SYNTH_MARKER, type SynthOptions, type SynthSummary } from './synth-catalog.js';
export { planCatalog, type CatalogPlan, type PlannedPhoto } from './plan.js';
export { drawIndividual, type Individual } from './individual.js';
export { drawPhotoScene } from './photo-scene.js';
export { renderPhoto, type RenderedPhoto, type RenderOptions } from './render.js';
export { sceneToSvg, flukeMaskSvg } from './scene-svg.js';
export type { PhotoScene, PhotoEffects, Background, Paint, Ripple, Rgb } from './scene-types.js';
