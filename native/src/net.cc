// The layer-spec interpreter on libtorch (see net.h). Everything here runs on one thread at a
// time (the binding serialises calls), usually a libuv worker, so the thread count and the
// autocast state, both thread-local in libtorch, are set at the start of each call.
#include "net.h"
#include "torch-util.h"
#include "training-net.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/autocast_mode.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/csrc/autograd/grad_mode.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <malloc.h>

#include <cmath>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <unordered_map>

#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define WHALEID_AUTOCAST_BY_DEVICE 1
#endif

namespace whaleid {
namespace {

// Scopes bf16 autocast on the network's device (thread-local in libtorch, so set on the thread
// that computes). PyTorch's policy: convolutions and matmuls in bf16 (the float32 master weights
// cast once per step, cached while the scope lasts), everything else in the dtype it is given;
// this interpreter gives BatchNorm, the losses, softmax and the reductions float32 (batchNorm()
// and the loss's casts), and Adam updates float32 weights with float32 moments.
class AutocastScope {
 public:
  AutocastScope(bool on, bool cuda) : on_(on), cuda_(cuda) {
    if (!on_) return;
#ifdef WHALEID_AUTOCAST_BY_DEVICE
    const auto type = cuda_ ? at::kCUDA : at::kCPU;
    at::autocast::set_autocast_dtype(type, at::kBFloat16);
    at::autocast::set_autocast_enabled(type, true);
#else
    if (cuda_) {
      at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
      at::autocast::set_enabled(true);
    } else {
      at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
      at::autocast::set_cpu_enabled(true);
    }
#endif
    at::autocast::increment_nesting();
  }
  ~AutocastScope() {
    if (!on_) return;
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
#ifdef WHALEID_AUTOCAST_BY_DEVICE
    at::autocast::set_autocast_enabled(cuda_ ? at::kCUDA : at::kCPU, false);
#else
    if (cuda_) at::autocast::set_enabled(false);
    else at::autocast::set_cpu_enabled(false);
#endif
  }
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool on_, cuda_;
};

// tfjs HWIO <-> torch OIHW.
at::Tensor toTorchLayout(const at::Tensor& t, const std::string& layout) {
  return layout == "hwio" ? t.permute({3, 2, 0, 1}).contiguous() : t.contiguous();
}
at::Tensor toTfjsLayout(const at::Tensor& t, const std::string& layout) {
  return layout == "hwio" ? t.permute({2, 3, 1, 0}).contiguous() : t.contiguous();
}

int64_t numel(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

// x with the activation applied; relu's gradient at 0 is 0 in both libraries.
at::Tensor activate(const at::Tensor& x, Act a) {
  switch (a) {
    case Act::Relu: return at::relu(x);
    case Act::Sigmoid: return at::sigmoid(x);
    case Act::Tanh: return at::tanh(x);
    case Act::Linear: break;
  }
  return x;
}

// |x| with tfjs's gradient (step(x, -1): -1 at 0, where torch's abs gives 0).
at::Tensor tfjsAbs(const at::Tensor& x) { return at::where(x > 0, x, -x); }

// A per-channel vector shaped to broadcast over x's channel axis (1).
at::Tensor perChannel(const at::Tensor& v, const at::Tensor& x) {
  std::vector<int64_t> shape(x.dim(), 1);
  shape[1] = x.size(1);
  return v.reshape(shape);
}

// Training-mode BatchNorm on the CPU: y = (x - mean) * invstd * gamma + beta with the batch's
// statistics, computed as tfjs computes them (centred first) and differentiated by libtorch's own
// fused backward pass. Why not at::native_batch_norm's CPU output: it folds the statistics into
// y = x * a + (beta - mean * a), which loses the low bits of (x - mean) when |mean| is large
// against the spread (against a float64 run of the same network the weight gradients' error grew
// ~2.5x: median 5.6e-5 vs tfjs's 2.2e-5). `centred` is x - m1 for a first estimate m1 of the mean
// and `offset` the rest (mean = m1 + offset, |offset| << the spread), so folding the offset is
// exact enough.
struct TrainBatchNorm : public torch::autograd::Function<TrainBatchNorm> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, const at::Tensor& gamma, const at::Tensor& beta,
                            const at::Tensor& mean, const at::Tensor& invstd, const at::Tensor& centred, const at::Tensor& offset, double eps) {
    ctx->save_for_backward({x, gamma, mean, invstd});
    ctx->saved_data["eps"] = eps;
    const at::Tensor scale = invstd * gamma;
    // written over `centred` (made for this and read nowhere else): one pass, and no fresh
    // activation-sized allocation, whose page faults cost about as much as the pass itself
    at::Tensor y = centred;
    ctx->mark_dirty({y});
    at::addcmul_out(y, perChannel(beta - offset * scale, x), y, perChannel(scale, x));
    return y;
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const std::array<bool, 3> mask{ctx->needs_input_grad(0), ctx->needs_input_grad(1), ctx->needs_input_grad(2)};
    auto g = at::native_batch_norm_backward(grads[0], saved[0], saved[1], {}, {}, saved[2], saved[3], true, ctx->saved_data["eps"].toDouble(), mask);
    return {std::get<0>(g), std::get<1>(g), std::get<2>(g), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

class TorchNet final : public TrainingNet {
 public:
  TorchNet(const NetSpec& spec, const NetOptions& options) : TrainingNet(options, /*seedEachMicroBatch=*/false), spec_(spec) {
    if (options.bf16 && options.float64) throw fail("bf16 and float64 exclude each other");
    if (spec.output < 0 || spec.output >= spec.values) throw fail("the spec has no output value");
    if (options.loss != "binary" && options.loss != "softmax" && options.loss != "arcface") throw fail("loss must be binary, softmax or arcface, got " + options.loss);
    if (options.loss == "arcface") addMarginHead();
    tensors_.reserve(spec_.params.size());
    for (size_t i = 0; i < spec_.params.size(); i++) {
      const auto& p = spec_.params[i];
      if (byName_.count(p.name)) throw fail("parameter " + p.name + " twice in the spec");
      byName_[p.name] = static_cast<int>(i);
      auto t = at::zeros(p.shape, dtype());
      tensors_.push_back(place(toTorchLayout(t, p.layout), p.layout));
      if (p.trainable) {
        tensors_.back().set_requires_grad(true);
        trainable_.push_back(static_cast<int>(i));
      }
    }
    for (const auto& node : spec.nodes) {
      for (int in : node.inputs) {
        if (in < 0 || in >= spec.values) throw fail("a node reads value " + std::to_string(in) + " out of range");
      }
      if (node.out < 0 || node.out >= spec.values) throw fail("a node writes value " + std::to_string(node.out) + " out of range");
      for (int p : {node.kernel, node.bias, node.gamma, node.beta, node.mean, node.variance}) {
        if (p >= static_cast<int>(tensors_.size())) throw fail("a node reads parameter " + std::to_string(p) + " out of range");
      }
    }
    sizeMoments();
  }

  std::vector<float> predict(const Pairs& pairs) override {
    prepareThread();
    at::NoGradGuard noGrad;
    at::Tensor p;
    {
      AutocastScope autocast(options_.bf16, isCuda());
      p = forward(pairs, false);
    }
    p = p.to(at::kFloat).to(at::kCPU).contiguous();
    return std::vector<float>(p.data_ptr<float>(), p.data_ptr<float>() + p.numel());
  }

 protected:
  // The pairs' (or photos') loss: the forward pass under bf16 autocast when asked, then the loss
  // in float32 outside it, as the backward pass, plus the L2 penalty.
  at::Tensor trainingLoss(const Pairs& pairs) override {
    at::Tensor p;
    {
      AutocastScope autocast(options_.bf16, isCuda());
      p = forward(pairs, true);
    }
    // the loss in float32, outside autocast, as the backward pass
    at::Tensor loss = options_.loss == "softmax" ? softmaxCrossEntropy(p.to(dtype()), classNumbers(pairs, p.size(1), device_))
                      : options_.loss == "arcface" ? arcfaceLoss(p.to(dtype()), tensors_[head_], classNumbers(pairs, options_.margin.classes, device_), margins_, options_.margin)
                                                   : crossEntropy(p.to(dtype()), labels(pairs));
    at::Tensor penalty = l2Penalty();
    if (penalty.defined()) loss = loss + penalty;
    return loss;
  }

 private:
  // The ArcFace loss's margin head: one more trainable parameter, after the spec's, read by the
  // loss rather than by a node (the spec's output is the embedding).
  void addMarginHead() {
    const auto& o = options_.margin;
    checkMargin(o);
    head_ = static_cast<int>(spec_.params.size());
    spec_.params.push_back({"margin_head/kernel", {o.features, o.classes * o.subcenters}, "plain", true, 0});
    margins_ = at::tensor(std::vector<float>(o.margins), at::kFloat).to(dtype()).to(device_);
  }
  // A parameter tensor on the device (conv kernels channels_last when asked).
  at::Tensor place(const at::Tensor& t, const std::string& layout) const {
    at::Tensor d = t.to(device_);
    if (layout == "hwio" && options_.channelsLast) d = d.contiguous(at::MemoryFormat::ChannelsLast);
    return d;
  }

  std::string nameOf(int i) const override { return spec_.params[i].name; }

  int indexOf(const std::string& name) const override {
    auto it = byName_.find(name);
    if (it == byName_.end()) throw fail("no parameter named " + name);
    return it->second;
  }

  NamedArray toNamed(int i, const at::Tensor& t) const override {
    const auto& p = spec_.params[i];
    at::Tensor c = toTfjsLayout(t.detach().to(at::kCPU).to(at::kFloat), p.layout);
    NamedArray a{p.name, p.shape, {}};
    a.values.assign(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
    return a;
  }

  at::Tensor fromNamed(int i, const NamedArray& a) const override {
    const auto& p = spec_.params[i];
    if (static_cast<int64_t>(a.values.size()) != numel(p.shape)) {
      throw fail(p.name + ": " + std::to_string(a.values.size()) + " values, expected " + std::to_string(numel(p.shape)));
    }
    at::Tensor t = at::from_blob(const_cast<float*>(a.values.data()), p.shape, at::kFloat).to(dtype(), /*non_blocking=*/false, /*copy=*/true);
    return place(toTorchLayout(t, p.layout), p.layout);
  }

  at::Tensor input(const Pairs& pairs, int which) const {
    const auto& v = which == 0 ? pairs.a : pairs.b;
    const int64_t n = pairs.count, s = pairs.size;
    if (n <= 0 || s <= 0 || static_cast<int64_t>(v.size()) != n * s * s) {
      throw fail("a batch of " + std::to_string(n) + " pairs of " + std::to_string(s) + " px needs " + std::to_string(n * s * s) + " values per side, got " + std::to_string(v.size()));
    }
    // NHWC [n, s, s, 1], as tfjs holds it; the spec permutes.
    at::Tensor t = at::from_blob(const_cast<float*>(v.data()), {n, s, s, 1}, at::kFloat).to(dtype(), /*non_blocking=*/false, /*copy=*/true);
    return t.to(device_, /*non_blocking=*/false);
  }

  at::Tensor labels(const Pairs& pairs) const {
    if (static_cast<int64_t>(pairs.labels.size()) != pairs.count) throw fail("one label per pair expected");
    return at::from_blob(const_cast<float*>(pairs.labels.data()), {pairs.count, 1}, at::kFloat).to(dtype(), /*non_blocking=*/false, /*copy=*/true).to(device_);
  }

  const at::Tensor& param(int i) const { return tensors_[i]; }
  at::Tensor optionalParam(int i) const { return i >= 0 ? tensors_[i] : at::Tensor(); }

  at::Tensor forward(const Pairs& pairs, bool training) {
    std::vector<at::Tensor> v(spec_.values);
    for (const auto& n : spec_.nodes) v[n.out] = run(n, v, pairs, training);
    return v[spec_.output];
  }

  at::Tensor run(const NodeSpec& n, const std::vector<at::Tensor>& v, const Pairs& pairs, bool training) {
    auto in = [&](size_t k) -> const at::Tensor& { return v[n.inputs.at(k)]; };
    switch (n.op) {
      case Op::Input: return input(pairs, n.index);
      case Op::Conv2d: return conv(n, in(0));
      case Op::BatchNorm: return batchNorm(n, in(0), training);
      case Op::MaxPool2d: return at::max_pool2d(in(0), n.poolSize, n.strides);
      case Op::GlobalMaxPool: return in(0).amax({2, 3});
      case Op::GlobalAvgPool: return in(0).mean({2, 3});
      case Op::Add: {
        at::Tensor s = in(0);
        for (size_t k = 1; k < n.inputs.size(); k++) s = s + in(k);
        return s;
      }
      case Op::Mul: {
        at::Tensor s = in(0);
        for (size_t k = 1; k < n.inputs.size(); k++) s = s * in(k);
        return s;
      }
      case Op::AbsDiff: return tfjsAbs(in(0) - in(1));
      case Op::Square: return in(0) * in(0);
      case Op::Activation: return activate(in(0), n.activation);
      case Op::Concat: {
        std::vector<at::Tensor> xs;
        for (size_t k = 0; k < n.inputs.size(); k++) xs.push_back(in(k));
        return at::cat(xs, n.axis);
      }
      case Op::Reshape: {
        std::vector<int64_t> shape{in(0).size(0)};
        shape.insert(shape.end(), n.shape.begin(), n.shape.end());
        return in(0).reshape(shape);
      }
      case Op::Permute: {
        at::Tensor y = in(0).permute(n.perm);
        return options_.channelsLast && y.dim() == 4 ? y.contiguous(at::MemoryFormat::ChannelsLast) : y;
      }
      case Op::Dense: {
        at::Tensor y = at::matmul(in(0), param(n.kernel));
        if (n.bias >= 0) y = y + param(n.bias);
        return activate(y, n.activation);
      }
    }
    throw fail("unknown op");
  }

  at::Tensor conv(const NodeSpec& n, at::Tensor x) {
    // TF's 'same' padding puts the larger half at the end; torch pads symmetrically, so an
    // uneven padding is an explicit zero pad first.
    const auto& p = n.pads;  // top, left, bottom, right
    std::vector<int64_t> padding{p.at(0), p.at(1)};
    if (p[0] != p[2] || p[1] != p[3]) {
      x = at::constant_pad_nd(x, {p[1], p[3], p[0], p[2]}, 0);
      padding = {0, 0};
    }
    at::Tensor y = at::conv2d(x, param(n.kernel), optionalParam(n.bias), n.strides, padding, n.dilation, 1);
    return activate(y, n.activation);
  }

  at::Tensor batchNorm(const NodeSpec& n, const at::Tensor& given, bool training) {
    // bf16 on the CPU: BatchNorm in float32, as its statistics need (a bf16 convolution's output
    // is widened here; the gradient goes back through the cast in bf16). CUDA's kernel takes bf16
    // input and computes in float32 itself.
    const at::Tensor x = !isCuda() && given.scalar_type() != dtype() ? given.to(dtype()) : given;
    at::Tensor gamma = n.gamma >= 0 ? tensors_[n.gamma] : at::ones({x.size(1)}, x.options().dtype(dtype()));
    at::Tensor beta = n.beta >= 0 ? tensors_[n.beta] : at::zeros({x.size(1)}, x.options().dtype(dtype()));
    at::Tensor& mean = tensors_[n.mean];
    at::Tensor& var = tensors_[n.variance];
    if (!training) return at::batch_norm(x, gamma, beta, mean, var, false, 0.0, n.epsilon, false);
    // Batch statistics with the biased variance, as tfjs's moments(); torch's running-statistics
    // update would use the unbiased one, so the moving averages are updated here, as Keras does:
    // moving -= (moving - batch) * (1 - momentum).
    at::Tensor y, batchMean, batchVar;
    if (isCuda()) {
      // the CUDA kernel computes (x - mean) * invstd * gamma + beta itself, in float32 for bf16 input
      auto out = at::native_batch_norm(x, gamma, beta, {}, {}, true, 0.0, n.epsilon);
      y = std::get<0>(out);
      batchMean = std::get<1>(out);
      at::NoGradGuard noGrad;
      batchVar = std::get<2>(out).pow(-2) - n.epsilon;
    } else {
      at::Tensor centred, offset;
      {
        // tfjs's two-pass moments: the mean, then the variance over the centred values. The mean
        // from at::mean (pairwise sums: 1.7e-7 of the mean), not from libtorch's fused statistics
        // pass, which sums in float32 (5e-6) and took 1.5x as long; the fused pass over the
        // centred values, where float32 sums lose nothing that matters, gives the (biased)
        // variance and what is left of the mean in one read (at::var_mean took 5x as long,
        // mean() + square().mean() 1.8x; 32x64x48x48 channels_last).
        at::NoGradGuard noGrad;
        std::vector<int64_t> dims{0};
        for (int64_t d = 2; d < x.dim(); d++) dims.push_back(d);
        at::Tensor first = x.mean(dims);
        centred = x - perChannel(first, x);
        auto moments = at::batch_norm_update_stats(centred, {}, {}, 0.0);
        offset = std::get<0>(moments);
        batchVar = std::get<1>(moments);
        batchMean = first + offset;
      }
      at::Tensor invstd = (batchVar + n.epsilon).rsqrt();
      y = TrainBatchNorm::apply(x, gamma, beta, batchMean, invstd, centred, offset, n.epsilon);
    }
    at::NoGradGuard noGrad;
    const float decay = static_cast<float>(1 - n.momentum);
    mean.sub_((mean - batchMean.to(mean.dtype())) * decay);
    var.sub_((var - batchVar.to(var.dtype())) * decay);
    return y;
  }

  // tfjs's binaryCrossentropy: clip the probability to [eps, 1 - eps], back to a logit, then
  // sigmoid cross-entropy with logits (max(x, 0) - x z + log(1 + exp(-|x|))), mean over pairs.
  at::Tensor crossEntropy(const at::Tensor& p, const at::Tensor& z) const {
    const float lo = kEpsilon, hi = static_cast<float>(1.0 - static_cast<double>(kEpsilon));
    at::Tensor y = p.clamp(lo, hi);
    at::Tensor logit = at::log(y / (1 - y));
    at::Tensor loss = at::relu(logit) - logit * z + at::log1p(at::exp(-tfjsAbs(logit)));
    return loss.mean();
  }

  // tf.losses.softmaxCrossEntropy (no label smoothing): logits - logSumExp(logits), the true
  // class's term negated, mean over the photos.
  at::Tensor softmaxCrossEntropy(const at::Tensor& logits, const at::Tensor& cls) const {
    if (logits.dim() != 2) throw fail("a softmax loss needs [photos, classes] logits");
    return -at::log_softmax(logits, 1).gather(1, cls.unsqueeze(1)).mean();
  }

  at::Tensor l2Penalty() const {
    at::Tensor total;
    for (size_t i = 0; i < tensors_.size(); i++) {
      const double l2 = spec_.params[i].l2;
      if (l2 <= 0) continue;
      at::Tensor term = (tensors_[i] * tensors_[i]).sum() * static_cast<float>(l2);
      total = total.defined() ? total + term : term;
    }
    return total;
  }

  NetSpec spec_;
  // the margin head's parameter index and the classes' margins (loss arcface)
  int head_ = -1;
  at::Tensor margins_;
  std::unordered_map<std::string, int> byName_;
};

// glibc hands activation-sized blocks (tens of MB) back to the kernel when they are freed and
// maps them afresh, page fault by page fault, at the next step; a training step frees and
// allocates hundreds of them. Keeping freed memory in the process (as PyTorch's advice to train on
// jemalloc or tcmalloc does) made a 192 px step of the method preset 3-5% faster here. Set once,
// when the first network is built, not when the addon is merely loaded (`whaleid doctor`).
void keepFreedMemory() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (std::getenv("MALLOC_MMAP_THRESHOLD_") || std::getenv("MALLOC_TRIM_THRESHOLD_")) return;  // the user's own tuning
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    mallopt(M_TOP_PAD, 256 << 20);
  });
}

}  // namespace

void Net::save(const std::string&) { throw fail("only a TorchScript network is saved as TorchScript"); }

std::unique_ptr<Net> createNet(const NetSpec& spec, const NetOptions& options) {
  if (options.threads < 1) throw fail("threads must be >= 1");
  keepFreedMemory();
  at::set_num_threads(options.threads);
  return std::make_unique<TorchNet>(spec, options);
}

TorchInfo torchInfo() {
  TorchInfo info;
  info.version = TORCH_VERSION;
  info.cudaAvailable = torch::cuda::is_available();
  info.cudaDevices = info.cudaAvailable ? static_cast<int64_t>(torch::cuda::device_count()) : 0;
  info.cudnn = info.cudaAvailable && torch::cuda::cudnn_is_available();
  info.defaultThreads = at::get_num_threads();
  info.parallel = at::get_parallel_info();
  return info;
}

}  // namespace whaleid
