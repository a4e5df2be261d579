// ArcFace and sub-centre ArcFace (see torch-util.h), as the ArcMarginProduct of the
// re-identification field writes them (the Happywhale 2022 solutions' head): cosines of unit
// embeddings to unit class centres, the true class's angle widened by its margin, scaled
// softmax cross-entropy.
#include <ATen/ATen.h>

#include <cmath>

#include "torch-util.h"

namespace whaleid {

at::Tensor classNumbers(const Pairs& pairs, int64_t classes, const at::Device& device) {
  if (static_cast<int64_t>(pairs.labels.size()) != pairs.count) throw fail("one class number per photo expected");
  std::vector<int64_t> c(pairs.labels.size());
  for (size_t i = 0; i < c.size(); i++) {
    const float x = pairs.labels[i];
    if (!(x >= 0 && x < static_cast<float>(classes) && x == static_cast<float>(static_cast<int64_t>(x)))) {
      throw fail("label " + std::to_string(i) + " is " + std::to_string(x) + ", expected a class number from 0 to " + std::to_string(classes - 1));
    }
    c[i] = static_cast<int64_t>(x);
  }
  return at::tensor(c, at::kLong).to(device);
}

void checkMargin(const MarginOptions& o) {
  if (o.classes < 2) throw fail("a margin loss needs at least 2 classes, got " + std::to_string(o.classes));
  if (o.subcenters < 1) throw fail("subcenters must be >= 1");
  if (o.features < 1) throw fail("the margin head needs the embedding size");
  if (!(o.scale > 0) || !std::isfinite(o.scale)) throw fail("the ArcFace scale must be a positive number");
  if (static_cast<int64_t>(o.margins.size()) != o.classes) {
    throw fail("one margin per class expected: " + std::to_string(o.margins.size()) + " for " + std::to_string(o.classes) + " classes");
  }
  for (float m : o.margins) {
    if (!(m >= 0 && m < M_PI / 2)) throw fail("a class margin of " + std::to_string(m) + " rad: expected from 0 to pi/2");
  }
}

namespace {
// x / max(|x|, 1e-12) along `dim`, as torch.nn.functional.normalize.
at::Tensor unit(const at::Tensor& x, int64_t dim) { return x / x.norm(2, {dim}, true).clamp_min(1e-12); }
}  // namespace

at::Tensor arcfaceLoss(const at::Tensor& embeddings, const at::Tensor& kernel, const at::Tensor& classes, const at::Tensor& margins, const MarginOptions& o) {
  if (embeddings.dim() != 2 || embeddings.size(1) != o.features) {
    throw fail("the margin head expects embeddings [photos, " + std::to_string(o.features) + "], got " + std::to_string(embeddings.dim()) + " dimensions of which the last is " + std::to_string(embeddings.size(-1)));
  }
  const int64_t n = embeddings.size(0);
  // [N, C x k] -> the best sub-centre of each class [N, C]
  at::Tensor cosine = at::matmul(unit(embeddings, 1), unit(kernel, 0)).view({n, o.classes, o.subcenters}).amax(2);
  at::Tensor target = classes.unsqueeze(1);
  at::Tensor m = margins.index_select(0, classes);
  at::Tensor cosY = cosine.gather(1, target).squeeze(1);
  // sin from cos; the floor keeps the square root's gradient finite at |cos| = 1
  at::Tensor sinY = (1 - cosY * cosY).clamp_min(1e-12).sqrt();
  at::Tensor phi = cosY * at::cos(m) - sinY * at::sin(m);
  // past theta = pi - m, cos(theta + m) would rise again: the usual linear continuation instead
  phi = at::where(cosY > at::cos(M_PI - m), phi, cosY - at::sin(M_PI - m) * m);
  at::Tensor oneHot = at::one_hot(classes, o.classes).to(cosine.scalar_type());
  at::Tensor logits = (cosine + oneHot * (phi - cosY).unsqueeze(1)) * o.scale;
  return -at::log_softmax(logits, 1).gather(1, target).mean();
}

}  // namespace whaleid
