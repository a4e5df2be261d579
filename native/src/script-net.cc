// A TorchScript network (see createScriptNet in net.h): a pretrained backbone written by
// torch.jit.trace or torch.jit.script, fine-tuned with the margin head on the user's photos, or
// run for embeddings. Its state crosses as named float32 arrays, as the layer-spec network's does,
// so the run's checkpoints are the same kind of files and a resume restores it bit for bit.
#include <ATen/Parallel.h>
#include <torch/cuda.h>
#include <torch/script.h>

#include <cmath>

#include "net.h"
#include "torch-util.h"
#include "training-net.h"

namespace whaleid {
namespace {

// The first line of a libtorch error (its messages carry a C++ backtrace after it).
std::string firstLine(const std::exception& e) {
  std::string s = e.what();
  return s.substr(0, s.find('\n'));
}

class ScriptNet final : public TrainingNet {
 public:
  // seeded at each micro-batch: a backbone's dropout and drop-path draw from libtorch's generator
  ScriptNet(const std::string& file, const NetOptions& options, int64_t trainable) : TrainingNet(options, /*seedEachMicroBatch=*/true) {
    if (options.bf16) throw fail("a TorchScript backbone trains in fp32 (bf16 autocast is for the layer-spec network)");
    if (trainable < 0) throw fail("the number of trained parameter tensors must be >= 0");
    try {
      module_ = torch::jit::load(file, device_);
    } catch (const std::exception& e) {
      throw fail("cannot load the TorchScript file " + file + ": " + firstLine(e));
    }
    if (options.float64) module_.to(at::kDouble);
    std::vector<at::Tensor> params;
    for (const auto& p : module_.named_parameters(true)) {
      names_.push_back("backbone/" + p.name);
      params.push_back(p.value);
    }
    const int64_t count = static_cast<int64_t>(params.size());
    for (int64_t i = 0; i < count; i++) {
      const bool trained = options.margin.classes > 0 && (trainable == 0 || i >= count - trainable);
      params[i].set_requires_grad(trained);
      if (trained) trainable_.push_back(static_cast<int>(i));
    }
    tensors_ = params;
    for (const auto& b : module_.named_buffers(true)) {
      names_.push_back("backbone/" + b.name);
      tensors_.push_back(b.value);
    }
    if (options.margin.classes > 0) {
      if (options.loss != "arcface") throw fail("a TorchScript backbone trains with the arcface loss, got " + options.loss);
      checkMargin(options.margin);
      const auto& o = options.margin;
      trainable_.push_back(static_cast<int>(tensors_.size()));
      names_.push_back("margin_head/kernel");
      tensors_.push_back(at::zeros({o.features, o.classes * o.subcenters}, at::TensorOptions().dtype(dtype()).device(device_)).set_requires_grad(true));
      head_ = tensors_.back();
      margins_ = at::tensor(std::vector<float>(o.margins), at::kFloat).to(dtype()).to(device_);
    }
    for (size_t i = 0; i < names_.size(); i++) byName_[names_[i]] = static_cast<int>(i);
    sizeMoments();
  }

  std::vector<float> predict(const Pairs& pairs) override {
    prepareThread();
    at::NoGradGuard noGrad;
    at::Tensor e = embed(pairs, false).to(at::kFloat).to(at::kCPU).contiguous();
    return std::vector<float>(e.data_ptr<float>(), e.data_ptr<float>() + e.numel());
  }

  void save(const std::string& file) override {
    module_.eval();
    try {
      module_.save(file);
    } catch (const std::exception& e) {
      throw fail("cannot write the TorchScript file " + file + ": " + firstLine(e));
    }
  }

 protected:
  // The photos' ArcFace loss over the margin head.
  at::Tensor trainingLoss(const Pairs& pairs) override {
    if (!head_.defined()) throw fail("this TorchScript network was opened for embeddings only");
    return arcfaceLoss(embed(pairs, true), head_, classNumbers(pairs, options_.margin.classes, device_), margins_, options_.margin);
  }

 private:
  std::string nameOf(int i) const override { return names_[i]; }

  int indexOf(const std::string& name) const override {
    auto it = byName_.find(name);
    if (it == byName_.end()) throw fail("no parameter or buffer named " + name);
    return it->second;
  }

  NamedArray toNamed(int i, const at::Tensor& t) const override {
    at::Tensor c = t.detach().to(at::kCPU).to(at::kFloat).contiguous();
    NamedArray a{names_[i], c.sizes().vec(), {}};
    a.values.assign(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
    return a;
  }

  // A named array as tensor i's dtype (integer buffers such as BatchNorm's step count included:
  // whole numbers below 2^24 cross float32 exactly) and device.
  at::Tensor fromNamed(int i, const NamedArray& a) const override {
    const at::Tensor& t = tensors_[i];
    if (static_cast<int64_t>(a.values.size()) != t.numel()) {
      throw fail(names_[i] + ": " + std::to_string(a.values.size()) + " values, expected " + std::to_string(t.numel()));
    }
    return at::from_blob(const_cast<float*>(a.values.data()), t.sizes(), at::kFloat).to(t.scalar_type(), false, true).to(device_);
  }

  // Photos as the backbone takes them, [n, 3, s, s] (an imported model's preprocessing, NCHW
  // RGB), or grey crops [n, s, s, 1] with the grey channel three times -> embeddings [n, D]
  // (feature maps average-pooled).
  at::Tensor embed(const Pairs& pairs, bool training) {
    const int64_t n = pairs.count, s = pairs.size, size = static_cast<int64_t>(pairs.a.size());
    if (n <= 0 || s <= 0 || (size != n * s * s && size != 3 * n * s * s)) {
      throw fail("a batch of " + std::to_string(n) + " photos of " + std::to_string(s) + " px needs " + std::to_string(3 * n * s * s) + " (RGB) or " + std::to_string(n * s * s) + " (grey) values, got " + std::to_string(size));
    }
    const int64_t channels = size / (n * s * s);
    at::Tensor x = at::from_blob(const_cast<float*>(pairs.a.data()), {n, channels, s, s}, at::kFloat).to(dtype(), false, true).expand({n, 3, s, s}).contiguous().to(device_);
    module_.train(training);
    at::Tensor y;
    try {
      y = module_.forward({x}).toTensor();
    } catch (const std::exception& e) {
      throw fail("the TorchScript network failed on a batch of [" + std::to_string(n) + ", 3, " + std::to_string(s) + ", " + std::to_string(s) + "]: " + firstLine(e));
    }
    if (y.dim() == 4) y = y.mean({2, 3});
    if (y.dim() != 2 || y.size(0) != n) throw fail("the TorchScript network returned " + std::to_string(y.dim()) + " dimensions: expected embeddings [N, D] or feature maps [N, D, h, w]");
    return y;
  }

  torch::jit::script::Module module_;
  // names of tensors_: parameters, then buffers, then the margin head ("backbone/<torch name>",
  // "margin_head/kernel")
  std::vector<std::string> names_;
  std::unordered_map<std::string, int> byName_;
  at::Tensor head_, margins_;
};

}  // namespace

std::unique_ptr<Net> createScriptNet(const std::string& file, const NetOptions& options, int64_t trainable) {
  if (options.threads < 1) throw fail("threads must be >= 1");
  at::set_num_threads(options.threads);
  return std::make_unique<ScriptNet>(file, options, trainable);
}

}  // namespace whaleid
