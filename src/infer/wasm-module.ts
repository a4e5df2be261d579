/**
 * Writing small WebAssembly modules by hand: the binary format's LEB128 integers, vectors,
 * sections and names, and the part of the WebAssembly JS API whaleid uses. Shared by the two
 * kernels assembled at run time (the score kernel's SIMD rows, the gallery's byte scan), which
 * need no toolchain and no file beside the code.
 */

/**
 * An unsigned LEB128 integer.
 *
 * @param n - a non-negative integer below 2^32
 * @returns its bytes
 * @example
 * uleb(624485); // [0xe5, 0x8e, 0x26]
 */
export function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

/**
 * A signed LEB128 integer (what `i32.const` takes).
 *
 * @param n - a 32-bit signed integer
 * @returns its bytes
 * @example
 * sleb(-123456); // [0xc0, 0xbb, 0x78]
 */
export function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) return [...out, byte];
    out.push(byte | 0x80);
  }
}

/** A vector: its length, then its bytes. */
export const vec = (bytes: number[]): number[] => [...uleb(bytes.length), ...bytes];
/** A section: its id, then its contents as a vector. */
export const section = (id: number, bytes: number[]): number[] => [id, ...vec(bytes)];
/** A name (UTF-8, as a vector). */
export const str = (s: string): number[] => vec([...Buffer.from(s, 'utf8')]);
/** The magic number and version that open every module. */
export const WASM_HEADER: readonly number[] = Object.freeze([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);

/** The part of the WebAssembly JS API used here (the project's `lib` has no DOM typings for it). */
export interface WasmApi {
  Memory: new (descriptor: { initial: number }) => { buffer: ArrayBuffer };
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
}
/** The runtime's WebAssembly object, typed by {@link WasmApi}. */
export const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
