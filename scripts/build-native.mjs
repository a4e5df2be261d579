#!/usr/bin/env node
// Builds the native training engine (native/, libtorch through N-API) at `npm ci` / `npm install`,
// against the first libtorch found:
//   1. LIBTORCH=DIR (an unpacked libtorch: DIR/include, DIR/lib);
//   2. Python's torch (`python3 -c 'import torch'`: its torch/include and torch/lib; how users with
//      a CUDA PyTorch get GPU training); PYTHON=... picks the interpreter;
//   3. Debian's libtorch-dev (/usr/include/torch, /usr/lib/<arch>/libtorch.so).
// It never fails the install: with no libtorch, or when the compile fails, it prints one line why
// and exits 0, and whaleid trains on tfjs-wasm (saying why once). The outcome is written to
// native/build/status.json (read by whaleid at run time and by `whaleid doctor`), the compiler's
// output to native/build/build.log. WHALEID_NATIVE=off skips the build.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync, rmSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const native = path.join(root, 'native');
const buildDir = path.join(native, 'build');
const started = Date.now();

/** Writes the outcome for whaleid to read, prints one line, exits 0. */
function finish(status, line) {
  // a failed attempt leaves no addon behind, not even an earlier build's
  if (!status.ok) removeAddons();
  mkdirSync(buildDir, { recursive: true });
  writeFileSync(path.join(buildDir, 'status.json'), JSON.stringify({ ...status, seconds: Math.round((Date.now() - started) / 100) / 10, date: new Date().toISOString() }, null, 2));
  console.log(`whaleid: ${line}`);
  process.exit(0);
}

function removeAddons() {
  const release = path.join(buildDir, 'Release');
  for (const f of existsSync(release) ? readdirSync(release) : []) if (f.endsWith('.node')) rmSync(path.join(release, f));
}

/** TORCH_VERSION_MAJOR/MINOR/PATCH from a libtorch's version.h, or null. */
function headerVersion(include) {
  const file = path.join(include, 'torch', 'csrc', 'api', 'include', 'torch', 'version.h');
  if (!existsSync(file)) return null;
  const text = readFileSync(file, 'utf8');
  const part = (k) => text.match(new RegExp(`#define\\s+TORCH_VERSION_${k}\\s+(\\d+)`))?.[1];
  const [major, minor, patch] = ['MAJOR', 'MINOR', 'PATCH'].map(part);
  return major !== undefined ? `${major}.${minor}.${patch}` : null;
}

/** The libtorch shared libraries present in `lib` that the addon links (CUDA ones when there). */
function torchLibs(lib) {
  const names = ['torch', 'torch_cpu', 'c10', 'torch_cuda', 'c10_cuda', 'torch_cuda_cu', 'torch_cuda_cpp'];
  return names.filter((n) => existsSync(path.join(lib, `lib${n}.so`)) || existsSync(path.join(lib, `lib${n}.dylib`)));
}

function fromLibtorchDir(dir) {
  const include = path.join(dir, 'include');
  const lib = path.join(dir, 'lib');
  const version = headerVersion(include);
  if (!version || !existsSync(lib)) return { error: `LIBTORCH=${dir} has no include/torch/csrc/api/include/torch/version.h or no lib/` };
  // the official archives say their ABI in TorchConfig.cmake
  const cmake = path.join(dir, 'share', 'cmake', 'Torch', 'TorchConfig.cmake');
  const abiMatch = existsSync(cmake) ? /_GLIBCXX_USE_CXX11_ABI=(\d)/.exec(readFileSync(cmake, 'utf8')) : null;
  const libs = torchLibs(lib);
  return { source: 'LIBTORCH', dir, include, lib, version, abi: abiMatch ? Number(abiMatch[1]) : 1, cuda: libs.includes('torch_cuda') ? 'yes' : null, libs };
}

function fromPython() {
  const query = 'import json, os, torch\nprint(json.dumps({"dir": os.path.dirname(torch.__file__), "version": torch.__version__, "abi": int(torch._C._GLIBCXX_USE_CXX11_ABI), "cuda": torch.version.cuda}))';
  for (const py of [process.env.PYTHON, 'python3', 'python'].filter(Boolean)) {
    const r = spawnSync(py, ['-c', query], { encoding: 'utf8', timeout: 120_000 });
    if (r.status !== 0) continue;
    let info;
    try {
      info = JSON.parse(r.stdout.trim().split('\n').at(-1));
    } catch {
      continue;
    }
    const include = path.join(info.dir, 'include');
    const lib = path.join(info.dir, 'lib');
    if (!headerVersion(include) || !existsSync(lib)) continue; // a torch without its C++ headers
    return { source: `python (${py})`, dir: info.dir, include, lib, version: info.version, abi: info.abi, cuda: info.cuda ?? null, libs: torchLibs(lib) };
  }
  return null;
}

function fromDebian() {
  const include = '/usr/include';
  const version = headerVersion(include);
  if (!version) return null;
  const lib = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib'].find((d) => existsSync(path.join(d, 'libtorch.so')));
  if (!lib) return null;
  const dpkg = spawnSync('dpkg-query', ['-W', '-f=${Version}', 'libtorch-dev'], { encoding: 'utf8' });
  const libs = torchLibs(lib);
  return { source: 'system (libtorch-dev)', dir: lib, include, lib, version: dpkg.status === 0 && dpkg.stdout ? dpkg.stdout.trim() : version, abi: 1, cuda: libs.includes('torch_cuda') ? 'yes' : null, libs };
}

/** npm's own node-gyp (npm sets npm_config_node_gyp for scripts), else the one next to node. */
function nodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  try {
    candidates.push(createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js'));
  } catch {
    // not installed as a package: fine
  }
  return candidates.find((c) => c && existsSync(c)) ?? null;
}

/** Node's headers: npm_config_nodedir, or the installed Node's own (PREFIX/include/node). */
function nodeDirArgs() {
  if (process.env.npm_config_nodedir) return [];
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  return existsSync(path.join(prefix, 'include', 'node', 'common.gypi')) ? [`--nodedir=${prefix}`] : [];
}

function napiInclude() {
  const pkg = createRequire(path.join(root, 'package.json')).resolve('node-addon-api/package.json');
  return path.dirname(pkg);
}

/** C++ standard: libtorch 2.12+ headers require C++20, older ones C++17. */
function cxxStandard(version) {
  const [major, minor] = version.split(/[.+a-z]/).map(Number);
  return major > 2 || (major === 2 && minor >= 12) ? 'c++20' : 'c++17';
}

function main() {
  if ((process.env.WHALEID_NATIVE ?? '').toLowerCase() === 'off') finish({ ok: false, reason: 'skipped (WHALEID_NATIVE=off)' }, 'native engine not built: WHALEID_NATIVE=off; training uses tfjs-wasm');
  let torch = null;
  if (process.env.LIBTORCH) {
    torch = fromLibtorchDir(path.resolve(process.env.LIBTORCH));
    if (torch.error) finish({ ok: false, reason: torch.error }, `native engine not built: ${torch.error}; training uses tfjs-wasm`);
  }
  torch ??= fromPython() ?? fromDebian();
  if (!torch) {
    const reason = 'no libtorch found (set LIBTORCH=DIR, install PyTorch for python3, or apt-get install libtorch-dev)';
    finish({ ok: false, reason }, `native engine not built: ${reason}; training uses tfjs-wasm`);
  }
  const gyp = nodeGyp();
  if (!gyp) finish({ ok: false, reason: 'node-gyp not found', libtorch: torch }, 'native engine not built: node-gyp not found; training uses tfjs-wasm');
  const includeDirs = [torch.include, path.join(torch.include, 'torch', 'csrc', 'api', 'include')].filter((d) => d !== '/usr/include');
  const config = {
    variables: {
      napi_include: napiInclude(),
      torch_include_dirs: includeDirs,
      torch_lib_dir: torch.lib,
      torch_libs: torch.libs.map((l) => `-l${l}`),
      torch_cxx11_abi: String(torch.abi),
      cxx_std: cxxStandard(torch.version),
    },
  };
  writeFileSync(path.join(native, 'build-config.gypi'), JSON.stringify(config, null, 2) + '\n');
  const args = [gyp, 'rebuild', '--release', '--jobs', 'max', ...nodeDirArgs()];
  const r = spawnSync(process.execPath, args, { cwd: native, encoding: 'utf8', maxBuffer: 256 * 2 ** 20, env: { ...process.env } });
  mkdirSync(buildDir, { recursive: true });
  const log = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  writeFileSync(path.join(buildDir, 'build.log'), log);
  const addon = path.join(buildDir, 'Release', 'whaleid_native.node');
  const libtorch = { source: torch.source, dir: torch.dir, version: torch.version, cuda: torch.cuda, abi: torch.abi };
  if (r.status !== 0 || !existsSync(addon)) {
    const first = log.split('\n').find((l) => /error|Error|ERR!/.test(l))?.trim() ?? `node-gyp exited with ${r.status ?? r.signal}`;
    const reason = `the build against libtorch ${torch.version} (${torch.source}) failed: ${first.slice(0, 300)} (log: native/build/build.log)`;
    finish({ ok: false, reason, libtorch }, `native engine not built: ${reason}; training uses tfjs-wasm`);
  }
  finish({ ok: true, libtorch }, `native engine built against libtorch ${torch.version} (${torch.source}${torch.cuda ? `, CUDA ${torch.cuda}` : ', CPU'}) in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

main();
