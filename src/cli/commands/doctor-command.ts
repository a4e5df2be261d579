import { Command } from 'commander';
import { defineCommand } from '../option-table.js';
import type { CliIo } from '../io.js';

/** `whaleid doctor`: the training engines, devices and threads of this machine. */
export function registerDoctorCommand(program: Command, io: CliIo): void {
  defineCommand(program, {
    name: 'doctor',
    description: 'list the training engines, devices and threads of this machine (and why the native engine is missing, if it is)',
    example: 'whaleid doctor',
    options: {},
    run: async () => {
      const r = (await import('../../model/engine-report.js')).engineReport();
      io.out(`cores: ${r.cores} (training uses them all unless --threads says otherwise)`);
      io.out(`engine wasm: available (tfjs wasm, up to ${r.wasm.maxThreads} threads)`);
      if (r.native.available) {
        const { torch, build } = r.native;
        const lib = build?.libtorch;
        io.out(`engine native: available (${r.native.file})`);
        io.out(`  libtorch: ${lib ? `${lib.version} from ${lib.source} (${lib.dir}), C++ ABI ${lib.abi}` : `headers ${torch.version}`}; CUDA support: ${lib?.cuda ? `yes (CUDA ${lib.cuda})` : 'no (CPU build)'}`);
        io.out(`  CUDA devices seen: ${torch.cudaDevices}${torch.cudnn ? ' (cuDNN)' : ''}; OMP_WAIT_POLICY=${r.native.ompWaitPolicy ?? 'unset'}`);
        for (const line of torch.parallel.split('\n').filter((l) => /^\s*(OpenMP|MKL not|Intel|oneDNN|ATen parallel)/.test(l))) io.out(`  ${line.trim()}`);
      } else {
        io.out(`engine native: not available: ${r.native.reason}`);
      }
      io.out(`devices: ${r.devices.join(', ')}`);
      io.out(`--engine auto trains on: ${r.auto}`);
    },
  });
}
