// What the layer-spec interpreter (net.cc) and the TorchScript network (script-net.cc) share:
// errors, tfjs's Adam step, class numbers and the margin losses (margin-loss.cc). Internal to
// the libtorch side: addon.cc never includes it.
#pragma once

#include <ATen/ATen.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "net.h"

namespace whaleid {

// tfjs's float32 epsilon (backend().epsilon()): BCE clipping and Adam's default epsilon.
constexpr float kEpsilon = 1e-7f;
constexpr double kBeta1 = 0.9, kBeta2 = 0.999;

inline std::runtime_error fail(const std::string& what) { return std::runtime_error("native engine: " + what); }

// beta^(steps + 1) as tfjs's live training computes it: float32(beta) multiplied by float32(beta)
// once per step, each product rounded to float32.
inline float chainPower(double beta, int64_t steps) {
  const float b = static_cast<float>(beta);
  float p = b;
  for (int64_t i = 0; i < steps; i++) p *= b;
  return p;
}

// One Adam update of `w` with gradient `g` as tfjs's AdamOptimizer does it: m = m*b1 + g*(1-b1);
// v = v*b2 + g^2*(1-b2); w += -lr * (m/(1-acc1)) / (sqrt(v/(1-acc2)) + eps), each op rounded as
// tfjs rounds it, in two scratch tensors rather than one per op. acc1, acc2: beta^(steps + 1).
inline void adamUpdate(at::Tensor& w, const at::Tensor& g, at::Tensor& m, at::Tensor& v, float acc1, float acc2, double lr) {
  const float oneMinusAcc1 = 1.0f - acc1, oneMinusAcc2 = 1.0f - acc2;
  const float b1 = static_cast<float>(kBeta1), b2 = static_cast<float>(kBeta2);
  const float c1 = static_cast<float>(1 - kBeta1), c2 = static_cast<float>(1 - kBeta2);
  if (!m.defined()) m = at::zeros_like(w);
  if (!v.defined()) v = at::zeros_like(w);
  at::Tensor t = at::mul(g, c1);
  m.mul_(b1).add_(t);
  at::Tensor u = at::square(g);
  u.mul_(c2);
  v.mul_(b2).add_(u);
  at::div_out(u, v, oneMinusAcc2).sqrt_().add_(kEpsilon);
  at::div_out(t, m, oneMinusAcc1).div_(u).mul_(-static_cast<float>(lr));
  w.add_(t);
}

// Class numbers of a batch as int64 [count] on `device`; each must be a whole number in [0, classes).
at::Tensor classNumbers(const Pairs& pairs, int64_t classes, const at::Device& device);

// Checks margin options against the embedding size; throws naming what is wrong.
void checkMargin(const MarginOptions& o);

// Mean ArcFace loss of embeddings [N, D] against `kernel` [D, classes x subcenters] (sub-centre
// ArcFace when subcenters > 1: a class's cosine is its best sub-centre's). `margins` [classes]
// holds each class's margin, in the embeddings' dtype and device.
at::Tensor arcfaceLoss(const at::Tensor& embeddings, const at::Tensor& kernel, const at::Tensor& classes, const at::Tensor& margins, const MarginOptions& o);

}  // namespace whaleid
