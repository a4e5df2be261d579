// The training step that the layer-spec interpreter (net.cc) and the TorchScript backbone
// (script-net.cc) share, written once: the device, the micro-batch (seed, loss, scaled backward
// pass), tfjs's Adam step over the accumulated gradients, and the state that crosses to
// TypeScript (weights, gradients, Adam's moments and step count). A network supplies its forward
// pass and loss (trainingLoss) and how its tensors cross (names, tfjs layout). Internal to the
// libtorch side: addon.cc never includes it.
#pragma once

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/cuda.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "net.h"
#include "torch-util.h"

namespace whaleid {

class TrainingNet : public Net {
 public:
  // One micro-batch: its loss (the network's, unscaled), whose gradients, scaled by `scale`, are
  // added to those already accumulated.
  double accumulate(const Pairs& pairs, double scale) final {
    prepareThread();
    // dropout and drop-path draw from libtorch's generator: seeded by (seed, step, micro-batch),
    // so a resumed run draws what the uninterrupted one drew
    if (seedEachMicroBatch_) at::manual_seed(static_cast<uint64_t>(options_.seed) * 1000003ULL + static_cast<uint64_t>(iterations_) * 1009ULL + micro_++);
    at::Tensor loss = trainingLoss(pairs);
    (loss * scale).backward();
    return loss.item<double>();
  }

  void applyAdam() final {
    prepareThread();
    at::NoGradGuard noGrad;
    // tfjs: oneMinusAccBeta = 1 - accBeta in float32, where accBeta = beta^(iterations + 1) as a
    // chain of float32 products (kept in acc1_, acc2_; rebuilt the same way by setOptimizerState)
    for (int i : trainable_) {
      at::Tensor g = tensors_[i].grad();
      if (g.defined()) adamUpdate(tensors_[i], g, m_[i], v_[i], acc1_, acc2_, lr_);
    }
    iterations_++;
    micro_ = 0;
    acc1_ *= static_cast<float>(kBeta1);
    acc2_ *= static_cast<float>(kBeta2);
    clearGradients();
  }

  std::vector<NamedArray> gradients() final {
    std::vector<NamedArray> out;
    for (int i : trainable_) {
      const auto& g = tensors_[i].grad();
      out.push_back(toNamed(i, g.defined() ? g : at::zeros_like(tensors_[i])));
    }
    return out;
  }

  void clearGradients() final {
    for (int i : trainable_) tensors_[i].mutable_grad() = at::Tensor();
  }

  void setLearningRate(double lr) final {
    if (!(lr > 0) || !std::isfinite(lr)) throw fail("learning rate must be a positive number");
    lr_ = lr;
  }
  double learningRate() const final { return lr_; }

  std::vector<NamedArray> getWeights() final {
    std::vector<NamedArray> out;
    for (size_t i = 0; i < tensors_.size(); i++) out.push_back(toNamed(static_cast<int>(i), tensors_[i]));
    return out;
  }

  void setWeights(const std::vector<NamedArray>& weights) final {
    at::NoGradGuard noGrad;
    for (const auto& w : weights) {
      const int i = indexOf(w.name);
      tensors_[i].copy_(fromNamed(i, w));
    }
  }

  int64_t iterations() const final { return iterations_; }

  std::vector<NamedArray> getMoments(bool second) final {
    std::vector<NamedArray> out;
    for (int i : trainable_) {
      const at::Tensor& t = second ? v_[i] : m_[i];
      out.push_back(toNamed(i, t.defined() ? t : at::zeros_like(tensors_[i])));
    }
    return out;
  }

  void setOptimizerState(int64_t iterations, const std::vector<NamedArray>& m, const std::vector<NamedArray>& v) final {
    if (iterations < 0) throw fail("Adam iterations must be >= 0");
    std::vector<at::Tensor> nm(tensors_.size()), nv(tensors_.size());
    for (const auto& a : m) nm[indexOf(a.name)] = fromNamed(indexOf(a.name), a);
    for (const auto& a : v) nv[indexOf(a.name)] = fromNamed(indexOf(a.name), a);
    std::vector<bool> trained(tensors_.size(), false);
    for (int i : trainable_) trained[i] = true;
    for (size_t i = 0; i < tensors_.size(); i++) {
      if (nm[i].defined() != nv[i].defined()) throw fail("Adam state of " + nameOf(static_cast<int>(i)) + " has one moment without the other");
      if (nm[i].defined() && !trained[i]) throw fail("Adam state for " + nameOf(static_cast<int>(i)) + ", which is not trained");
    }
    m_ = nm;
    v_ = nv;
    iterations_ = iterations;
    micro_ = 0;
    acc1_ = chainPower(kBeta1, iterations);
    acc2_ = chainPower(kBeta2, iterations);
  }

 protected:
  // Opens `options.device` (CUDA: cuDNN deterministic unless told otherwise). A network with
  // random ops (dropout, drop-path) passes seedEachMicroBatch: libtorch's generator is seeded at
  // each micro-batch from (options.seed, step, micro-batch). Throws for an unknown or absent device.
  TrainingNet(const NetOptions& options, bool seedEachMicroBatch) : options_(options), device_(at::kCPU), seedEachMicroBatch_(seedEachMicroBatch) {
    if (options.device == "cuda") {
      if (!torch::cuda::is_available()) throw fail("--device cuda: this libtorch sees no CUDA device");
      device_ = at::Device(at::kCUDA, 0);
      at::globalContext().setDeterministicCuDNN(options.deterministic);
      at::globalContext().setBenchmarkCuDNN(!options.deterministic);
    } else if (options.device != "cpu") {
      throw fail("unknown device " + options.device);
    }
  }

  // The micro-batch's loss, from a training-mode forward pass (with autograd); the caller runs
  // the backward pass.
  virtual at::Tensor trainingLoss(const Pairs& pairs) = 0;
  // Tensor i's name as it crosses (tfjs's, or "backbone/<torch name>").
  virtual std::string nameOf(int i) const = 0;
  // The index of the tensor named `name`; throws naming it when there is none.
  virtual int indexOf(const std::string& name) const = 0;
  // Tensor i's value `t` (itself, its gradient or a moment) as a float32 array in tfjs layout.
  virtual NamedArray toNamed(int i, const at::Tensor& t) const = 0;
  // A named array as tensor i is held (dtype, layout, device); throws for a size mismatch.
  virtual at::Tensor fromNamed(int i, const NamedArray& a) const = 0;

  // Call once tensors_ holds every tensor: Adam's moments, one slot per tensor.
  void sizeMoments() {
    m_.resize(tensors_.size());
    v_.resize(tensors_.size());
  }

  bool isCuda() const { return device_.is_cuda(); }
  // float64 is a reference for tests: how far float32 rounding moves a result.
  at::ScalarType dtype() const { return options_.float64 ? at::kDouble : at::kFloat; }

  void prepareThread() {
    // OpenMP's thread count is per calling thread: set it on the thread that computes.
    if (at::get_num_threads() != options_.threads) at::set_num_threads(options_.threads);
  }

  NetOptions options_;
  at::Device device_;
  // every tensor that crosses (trained ones, frozen ones, moving statistics or buffers), and the
  // indices of the trained ones, which Adam steps
  std::vector<at::Tensor> tensors_;
  std::vector<int> trainable_;

 private:
  bool seedEachMicroBatch_;
  std::vector<at::Tensor> m_, v_;
  int64_t iterations_ = 0;
  // micro-batches since the last Adam step (the seed's third part)
  uint64_t micro_ = 0;
  float acc1_ = static_cast<float>(kBeta1), acc2_ = static_cast<float>(kBeta2);
  double lr_ = 1e-3;
};

}  // namespace whaleid
