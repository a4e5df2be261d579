/**
 * A folder's manifest: the SHA-256 of each model file it holds and what the model is (preset,
 * input size, feature count), written when the model is written and checked by every loader. A
 * file replaced (random bytes of the same size, a model of another preset) or copied from another
 * run is then refused with one line naming it, instead of giving silently different results or a
 * shape error deep inside scoring.
 *
 * A run folder's manifest (RUN/manifest.json) covers the final model/ and onnx/ files; a
 * checkpoint carries its own (checkpoint/manifest.json) over the files a resume reads. Folders
 * written before manifests existed have none: loaders then warn once and go on (see
 * {@link checkManifest}), so existing runs keep working.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../../util/atomic-file.js';
import { WhaleidError } from '../../util/errors.js';

/** The manifest's file name inside the folder it describes. */
export const MANIFEST_JSON = 'manifest.json';

/** What a model is, as recorded beside its files' hashes. */
export interface ModelIdentity {
  /** The architecture preset's name (e.g. `tiny`, `kernel`). */
  preset: string;
  /** Input side in pixels. */
  inputSize: number;
  /** Features per photo (the branch's output). */
  features: number;
}

/** The contents of manifest.json. */
export interface Manifest extends ModelIdentity {
  format: 'whaleid-manifest';
  version: 1;
  /** SHA-256 (hex) of each file, by path relative to the folder, with `/` separators. */
  files: Record<string, string>;
}

/**
 * SHA-256 of a file, hex.
 *
 * @param file - the path
 * @returns 64 hex digits
 */
export function sha256File(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/**
 * Removes a folder's manifest: done before its model files are rewritten, so that a kill midway
 * leaves a folder without a manifest (loaded with a warning), never one whose manifest lies.
 *
 * @param dir - the folder
 */
export function removeManifest(dir: string): void {
  rmSync(path.join(dir, MANIFEST_JSON), { force: true });
}

/**
 * Writes a folder's manifest over the given files (atomically), once they are written.
 *
 * @param dir - the folder
 * @param files - the files to cover, relative to `dir` (`/` separators)
 * @param identity - preset, input size and feature count of the model
 * @returns the manifest written
 * @throws the file system's error when a file cannot be read
 * @example
 * await writeManifest('runs/a', ['model/model.json', 'model/weights.bin'], { preset: 'tiny', inputSize: 64, features: 64 });
 */
export async function writeManifest(dir: string, files: readonly string[], identity: ModelIdentity): Promise<Manifest> {
  const manifest: Manifest = {
    format: 'whaleid-manifest',
    version: 1,
    preset: identity.preset,
    inputSize: identity.inputSize,
    features: identity.features,
    files: Object.fromEntries(files.map((f) => [f, sha256File(path.join(dir, ...f.split('/')))])),
  };
  await writeFileAtomic(path.join(dir, MANIFEST_JSON), JSON.stringify(manifest, null, 2));
  return manifest;
}

/**
 * Reads a folder's manifest.
 *
 * @param dir - the folder
 * @returns the manifest, or null when the folder has none
 * @throws {@link WhaleidError} naming manifest.json and the field when it is malformed
 */
export function readManifest(dir: string): Manifest | null {
  const file = path.join(dir, MANIFEST_JSON);
  if (!existsSync(file)) return null;
  let m: Partial<Manifest>;
  try {
    m = JSON.parse(readFileSync(file, 'utf8')) as Partial<Manifest>;
  } catch (err) {
    throw new WhaleidError(`${file}: not readable JSON (${(err as Error).message.split('\n')[0]})`);
  }
  const bad = (field: string, expected: string): WhaleidError => new WhaleidError(`${file}: expected ${expected} for ${field}`);
  if (m === null || typeof m !== 'object' || m.format !== 'whaleid-manifest') throw bad('format', '"whaleid-manifest"');
  if (m.version !== 1) throw bad('version', '1');
  if (typeof m.preset !== 'string') throw bad('preset', 'a string');
  for (const k of ['inputSize', 'features'] as const) if (!Number.isSafeInteger(m[k]) || (m[k] as number) < 1) throw bad(k, 'a positive integer');
  const files = m.files;
  if (files === null || typeof files !== 'object' || Array.isArray(files)) throw bad('files', 'an object of file: sha256');
  for (const [f, h] of Object.entries(files)) {
    if (typeof h !== 'string' || !/^[0-9a-f]{64}$/.test(h) || f.split('/').some((p) => p === '..' || p === '') || path.isAbsolute(f)) throw bad(`files["${f}"]`, 'a 64-digit hex SHA-256 of a file inside the folder');
  }
  return m as Manifest;
}

/**
 * Checks a folder's files against its manifest: every listed file must be there with its hash.
 *
 * @param dir - the folder
 * @param manifest - its manifest
 * @throws {@link WhaleidError} naming the first file that is missing or differs
 */
export function verifyManifest(dir: string, manifest: Manifest): void {
  for (const [rel, expected] of Object.entries(manifest.files)) {
    const file = path.join(dir, ...rel.split('/'));
    if (!existsSync(file)) throw new WhaleidError(`${file}: missing, but listed in ${path.join(dir, MANIFEST_JSON)}; the folder was changed`);
    const actual = sha256File(file);
    if (actual !== expected) {
      throw new WhaleidError(`${file}: does not match ${path.join(dir, MANIFEST_JSON)} (sha256 ${actual.slice(0, 12)}..., the manifest says ${expected.slice(0, 12)}...); the folder was changed or mixed with another`);
    }
  }
}

/**
 * What every loader does first: reads the folder's manifest and checks its files. A folder from
 * before manifests (none there) is accepted with one warning line, so existing runs keep working.
 *
 * @param dir - the folder
 * @param onWarning - receives the warning for a folder without a manifest
 * @returns the manifest, or null for a folder without one
 * @throws {@link WhaleidError} naming the file that does not match, or a malformed manifest
 * @example
 * const m = checkManifest('runs/a', (l) => console.error(l));
 */
export function checkManifest(dir: string, onWarning: (line: string) => void): Manifest | null {
  const manifest = readManifest(dir);
  if (manifest === null) {
    onWarning(`warning: ${dir} has no ${MANIFEST_JSON} (written before manifests): its model files are not checked`);
    return null;
  }
  verifyManifest(dir, manifest);
  return manifest;
}

/**
 * Checks that a loaded model is the one its manifest describes (the hashes say the files are the
 * ones written; this says the loader reads them as that model).
 *
 * @param dir - the folder (for the message)
 * @param manifest - its manifest
 * @param found - what the loaded model (or the run's configuration) has
 * @param source - what `found` comes from, for the message (e.g. `the model`, a config file)
 * @throws {@link WhaleidError} naming the manifest and the field that differs
 */
export function checkModelIdentity(dir: string, manifest: Manifest, found: Partial<ModelIdentity>, source: string): void {
  for (const k of ['preset', 'inputSize', 'features'] as const) {
    if (found[k] !== undefined && found[k] !== manifest[k]) {
      throw new WhaleidError(`${path.join(dir, MANIFEST_JSON)}: ${k} ${manifest[k]}, but ${source} has ${found[k]}; the folder was changed or mixed with another`);
    }
  }
}
