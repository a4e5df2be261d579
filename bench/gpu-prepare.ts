// Prepares .gpu/ for bench/gpu-check.sh, the native engine's check on a machine with an NVIDIA GPU
// and a CUDA PyTorch but neither Node nor this project's node_modules: Node itself (xz, ~24 MB),
// the N-API headers the addon compiles against, and fixtures made here with tfjs (the network's
// definition): the small preset's layer spec, weights, batch and tfjs-cpu gradients (the parity
// reference), and the method preset's layer spec at the benchmark's size.
// Usage: npx tsx bench/gpu-prepare.ts [--size 384]; then carry .gpu to the GPU machine and run
// bench/gpu-check.sh there (see that script).
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { initEngine } from '../src/model/tfjs/tfjs-backend.js';
import { unregisterBatchNormGradient } from '../src/model/tfjs/batch-norm-grad.js';
import { layerSpecOf } from '../src/model/network/layer-spec.js';
import { createSiamese } from '../src/model/network/siamese.js';
import { flagValue } from './lib/args.js';
import { parityBatch, parityGradients, parityModel, parityWeights } from '../test/helpers/siamese-gradients.js';

const root = path.resolve(import.meta.dirname, '..');
const out = path.join(root, '.gpu');
const size = Number(flagValue('size', '384'));
mkdirSync(path.join(out, 'include'), { recursive: true });
mkdirSync(path.join(out, 'fixtures'), { recursive: true });

// Node's N-API headers and node-addon-api's: all the addon needs from Node to compile
const nodeInclude = ['/usr/include/node', path.resolve(path.dirname(process.execPath), '..', 'include', 'node')].find((d) => existsSync(path.join(d, 'node_api.h')));
if (!nodeInclude) throw new Error("Node's headers (node_api.h) not found");
for (const h of ['node_api.h', 'node_api_types.h', 'js_native_api.h', 'js_native_api_types.h']) copyFileSync(path.join(nodeInclude, h), path.join(out, 'include', h));
const napi = path.dirname(createRequire(path.join(root, 'package.json')).resolve('node-addon-api/package.json'));
for (const h of ['napi.h', 'napi-inl.h', 'napi-inl.deprecated.h']) copyFileSync(path.join(napi, h), path.join(out, 'include', h));

const b64 = (a: Float32Array): string => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');

// the parity fixture: the small preset's gradients on tfjs's cpu backend with its stock gradients
// (test/model/native-parity.test.ts now takes tfjs's wasm backend as its reference; the GPU checks'
// bounds were set against this one)
await initEngine({ backend: 'cpu' });
unregisterBatchNormGradient();
const weights = parityWeights();
const ref = parityGradients(weights);
const small = parityModel();
const names = small.model.weights.map((w) => w.originalName);
const batch = parityBatch();
writeFileSync(path.join(out, 'fixtures', 'parity-small.json'), JSON.stringify({
  spec: layerSpecOf(small.model),
  weights: names.map((name, i) => ({ name, values: b64(weights[i]) })),
  batch: { a: b64(batch.a), b: b64(batch.b), labels: b64(batch.labels), count: batch.count, size: batch.size },
  reference: { backend: 'tfjs cpu', loss: ref.loss, grads: ref.names.map((name, i) => ({ name, values: b64(ref.grads[i]) })) },
}));
small.model.dispose();

// the benchmark's network: the method preset at `size` px (weights drawn on the GPU machine)
const method = createSiamese({ preset: 'method', inputSize: size, seed: 0 });
writeFileSync(path.join(out, 'fixtures', `method-${size}.json`), JSON.stringify({ size, spec: layerSpecOf(method.model) }));
method.model.dispose();

if (!existsSync(path.join(out, 'node.xz'))) {
  // this machine's Node (a static build needs only glibc); xz at 2 threads, about 24 MB
  execFileSync('sh', ['-c', `xz -T2 -6 -c ${JSON.stringify(process.execPath)} > ${JSON.stringify(path.join(out, 'node.xz'))}`]);
}
console.log(`prepared ${out}: node.xz, include/ (N-API), fixtures/parity-small.json, fixtures/method-${size}.json; carry .gpu and run bench/gpu-check.sh on the GPU machine`);
