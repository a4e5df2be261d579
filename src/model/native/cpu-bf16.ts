/**
 * Whether this CPU computes bfloat16 in hardware. Convolutions and matmuls in bf16 are fast only
 * with AVX512-BF16 (Cooper Lake, Zen 4 and later) or AMX (Sapphire Rapids and later); elsewhere
 * oneDNN does not take them and libtorch computes them by its generic kernels, many times slower
 * than float32 (measured on an AMD EPYC with AVX2 only, PyTorch 1.13: a 3x3 convolution, forward
 * and backward, 14x; whaleid's native engine, a method-preset step: BF16_CPU_SLOWDOWN).
 */
import { readFileSync } from 'node:fs';

/** The instructions that make bf16 fast, as /proc/cpuinfo names them. */
export const BF16_CPU_FLAGS = ['avx512_bf16', 'amx_bf16'] as const;

/**
 * How much slower a bf16 step of the method preset ran than a float32 one where those
 * instructions are missing (whaleid's native engine, 2 threads, AMD EPYC with AVX2, a loaded
 * machine; `npm run bench:train -- --precision fp32,bf16`, one run: 4.7x at 96 px, 9.6x at 192 px;
 * small networks, whose steps are mostly overhead, lose less: the tiny preset at 64 px 1.5x).
 */
export const BF16_CPU_SLOWDOWN = '5 to 10 times';

/**
 * The bf16 instructions this CPU has, read from /proc/cpuinfo's flags.
 *
 * @param cpuinfo - the text of /proc/cpuinfo (read when not given; empty where there is none)
 * @returns the flags of {@link BF16_CPU_FLAGS} present, or null where the flags cannot be read
 * @example
 * bf16CpuFlags('flags : fpu avx2 avx512_bf16'); // ['avx512_bf16']
 */
export function bf16CpuFlags(cpuinfo?: string): string[] | null {
  let text = cpuinfo;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/cpuinfo', 'utf8');
    } catch {
      return null; // not Linux: no word either way
    }
  }
  const line = /^flags\s*:(.*)$/m.exec(text);
  if (!line) return null;
  const flags = new Set(line[1].trim().split(/\s+/));
  return BF16_CPU_FLAGS.filter((f) => flags.has(f));
}

/**
 * The warning for bf16 training on this CPU, or null where it has the instructions (or they
 * cannot be read). Why a warning and not a refusal: the run is right, only slow, as PyTorch's
 * own CPU autocast is there; a bf16 run on such a machine is worth its time for checking a recipe
 * before it moves to a bf16 CPU, and a user who wanted speed reads the line at the start.
 *
 * @param cpuinfo - the text of /proc/cpuinfo (read when not given)
 * @returns one line naming the missing instructions and the slowdown to expect, or null
 * @example
 * bf16CpuWarning('flags : fpu avx2'); // 'warning: --precision bf16 on this CPU: ...'
 */
export function bf16CpuWarning(cpuinfo?: string): string | null {
  const present = bf16CpuFlags(cpuinfo);
  if (present === null || present.length > 0) return null;
  return `warning: --precision bf16 on this CPU: it has neither ${BF16_CPU_FLAGS.join(' nor ')}, so bf16 is emulated; expect steps up to ${BF16_CPU_SLOWDOWN} slower than --precision fp32 (measured on a CPU with AVX2 only)`;
}
