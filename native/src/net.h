// The network interpreter's plain C++ face: no torch and no N-API types, so the binding file
// (addon.cc) compiles without the libtorch headers and net.cc without Node's.
//
// A NetSpec is the layer spec that src/model/layer-spec.ts builds from the tfjs model (the
// network's one definition): a list of torch-level ops over numbered values, in NCHW, with the
// parameters they read by index. The interpreter runs it forward with autograd, adds the loss
// tfjs computes (binary cross-entropy after its epsilon clipping, L2 on kernels) and steps Adam
// as tfjs's AdamOptimizer does.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace whaleid {

// One parameter: a trainable weight or a BatchNorm moving statistic, named as tfjs names it.
struct ParamSpec {
  std::string name;
  // Shape in tfjs layout (e.g. a conv kernel [kh, kw, in, out]).
  std::vector<int64_t> shape;
  // "hwio": a conv kernel, stored OIHW inside; "plain": same layout on both sides.
  std::string layout;
  bool trainable = true;
  // L2 factor of the kernel regularizer (0: none): the loss adds l2 * sum(w^2).
  double l2 = 0;
};

enum class Op {
  Input, Conv2d, BatchNorm, MaxPool2d, GlobalMaxPool, GlobalAvgPool, Add, Mul, AbsDiff, Square,
  Activation, Concat, Reshape, Permute, Dense
};

enum class Act { Linear, Relu, Sigmoid, Tanh };

// One op. Fields not used by an op stay at their defaults.
struct NodeSpec {
  Op op = Op::Input;
  std::vector<int> inputs;
  int out = -1;
  // Input: which pair input (0: a, 1: b).
  int index = 0;
  // Parameter indices (-1: absent). Conv2d/Dense: kernel, bias. BatchNorm: gamma, beta, mean, variance.
  int kernel = -1, bias = -1, gamma = -1, beta = -1, mean = -1, variance = -1;
  // Conv2d / MaxPool2d: strides; Conv2d: dilation and pads [top, left, bottom, right].
  std::vector<int64_t> strides, dilation, pads, poolSize;
  // Reshape: target shape without the batch axis. Permute: the permutation.
  std::vector<int64_t> shape, perm;
  int64_t axis = 0;
  Act activation = Act::Linear;
  // BatchNorm: epsilon and Keras momentum (moving = moving - (moving - batch) * (1 - momentum)).
  double epsilon = 1e-3, momentum = 0.99;
};

struct NetSpec {
  std::vector<ParamSpec> params;
  std::vector<NodeSpec> nodes;
  int values = 0;
  int output = -1;
};

// The margin head of the ArcFace losses: a kernel [features, classes x subcenters] (trainable,
// named margin_head/kernel) whose columns, unit length, are the classes' sub-centres; a photo's
// cosine to a class is its best sub-centre's, and the true class's angle gets the class's margin.
struct MarginOptions {
  int64_t classes = 0;
  // k sub-centres per class (1: plain ArcFace).
  int64_t subcenters = 1;
  // Embedding size (the kernel's rows).
  int64_t features = 0;
  // s: the logits are s x cos.
  double scale = 30;
  // One margin per class (radians), e.g. the dynamic a * n^(-1/4) + b.
  std::vector<float> margins;
};

struct NetOptions {
  // "cpu" or "cuda".
  std::string device = "cpu";
  int threads = 1;
  // bf16 autocast (PyTorch's policy: convolutions and matmuls in bf16, BatchNorm, losses and
  // weights in float32), on the CPU or CUDA.
  bool bf16 = false;
  // Computes in float64 (a reference for tests; weights still cross as float32).
  bool float64 = false;
  // channels_last memory format for activations and conv kernels.
  bool channelsLast = false;
  // CUDA: deterministic cuDNN algorithms, no benchmarking (same result for the same seed).
  bool deterministic = true;
  // "binary": the output is the pair's probability, labels 0/1 (the Siamese network).
  // "softmax": the output is one logit per class, labels are class numbers (the branch's
  // classification warm-up): softmax cross-entropy from the logits, as tf.losses.softmaxCrossEntropy.
  // "arcface": the output is a photo's embedding, labels are class numbers; the loss is ArcFace
  // (sub-centre ArcFace with margin.subcenters > 1) over the margin head.
  std::string loss = "binary";
  MarginOptions margin;
  // A TorchScript network only: seeds libtorch's generator at each step (seed, step), so dropout
  // and the like draw the same numbers in a resumed run.
  int64_t seed = 0;
};

// A named array in tfjs layout.
struct NamedArray {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> values;
};

// A batch of pairs: NHWC greyscale crops [count, size, size, 1] and labels. A one-input network
// (the classification warm-up) reads only `a`; its labels are class numbers.
struct Pairs {
  std::vector<float> a, b, labels;
  int64_t count = 0, size = 0;
};

class Net {
 public:
  virtual ~Net() = default;
  // Forward and backward over one (micro-)batch; the gradients, scaled by `scale`, are added to
  // those already accumulated; BatchNorm moving statistics are updated. Returns the batch's loss
  // (mean cross-entropy + L2 penalty), unscaled.
  virtual double accumulate(const Pairs& pairs, double scale) = 0;
  // One Adam step with the accumulated gradients, which are then cleared.
  virtual void applyAdam() = 0;
  // Accumulated gradients of the trainable parameters, tfjs layout (for parity tests).
  virtual std::vector<NamedArray> gradients() = 0;
  virtual void clearGradients() = 0;
  virtual void setLearningRate(double lr) = 0;
  virtual double learningRate() const = 0;
  // Every parameter (trainable and moving statistics), tfjs layout.
  virtual std::vector<NamedArray> getWeights() = 0;
  // Replaces the named parameters; throws for an unknown name or a size mismatch.
  virtual void setWeights(const std::vector<NamedArray>& weights) = 0;
  // Adam's state: iterations and, per trainable parameter, its first and second moments.
  virtual int64_t iterations() const = 0;
  virtual std::vector<NamedArray> getMoments(bool second) = 0;
  virtual void setOptimizerState(int64_t iterations, const std::vector<NamedArray>& m, const std::vector<NamedArray>& v) = 0;
  // The probabilities of the pairs, inference mode (moving statistics).
  virtual std::vector<float> predict(const Pairs& pairs) = 0;
  // Writes the network as a TorchScript file (a TorchScript network only).
  virtual void save(const std::string& file);
};

// Builds a network; throws std::exception with a message naming what is wrong.
std::unique_ptr<Net> createNet(const NetSpec& spec, const NetOptions& options);

// A TorchScript network (torch::jit::load of `file`, e.g. a traced timm or torchvision model) that
// maps [N, 3, H, W] photos to embeddings [N, D] (or feature maps [N, D, h, w], average-pooled),
// trained with the margin head of options.margin (options.loss "arcface"); with no classes, an
// embedder for inference only. `trainable`: the last that many parameter tensors are trained (0:
// all). Parameters and buffers are named "backbone/<torch name>". Throws naming what is wrong.
std::unique_ptr<Net> createScriptNet(const std::string& file, const NetOptions& options, int64_t trainable);

// What this build links and sees.
struct TorchInfo {
  std::string version;
  bool cudaAvailable = false;
  int64_t cudaDevices = 0;
  bool cudnn = false;
  int defaultThreads = 1;
  std::string parallel;
};

TorchInfo torchInfo();

}  // namespace whaleid
