// N-API binding of the network interpreter (net.h): a `Net` class for JavaScript and
// `torchInfo()`. Steps and predictions run as async work on libuv's thread pool so Node's event
// loop stays free; one call at a time per net (a second one while a step runs is refused).
#include <napi.h>

#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "net.h"

namespace {

using whaleid::NamedArray;
using whaleid::Net;
using whaleid::NodeSpec;
using whaleid::Op;

[[noreturn]] void typeError(Napi::Env env, const std::string& what) { throw Napi::TypeError::New(env, "native engine: " + what); }

double numberField(Napi::Object o, const char* key, const std::string& where, bool required = true, double fallback = 0) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() && !required) return fallback;
  if (!v.IsNumber()) typeError(o.Env(), where + "." + key + ": expected a number");
  return v.As<Napi::Number>().DoubleValue();
}

int intField(Napi::Object o, const char* key, const std::string& where, bool required = true, int fallback = -1) {
  return static_cast<int>(numberField(o, key, where, required, fallback));
}

std::string stringField(Napi::Object o, const char* key, const std::string& where, const std::string& fallback = "") {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() && !fallback.empty()) return fallback;
  if (!v.IsString()) typeError(o.Env(), where + "." + key + ": expected a string");
  return v.As<Napi::String>().Utf8Value();
}

std::vector<int64_t> intsField(Napi::Object o, const char* key, const std::string& where) {
  Napi::Value v = o.Get(key);
  std::vector<int64_t> out;
  if (v.IsUndefined()) return out;
  if (!v.IsArray()) typeError(o.Env(), where + "." + key + ": expected an array of integers");
  auto a = v.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); i++) {
    Napi::Value e = a.Get(i);
    if (!e.IsNumber()) typeError(o.Env(), where + "." + key + ": expected an array of integers");
    out.push_back(e.As<Napi::Number>().Int64Value());
  }
  return out;
}

Op parseOp(Napi::Env env, const std::string& op, const std::string& where) {
  static const std::pair<const char*, Op> ops[] = {
      {"input", Op::Input},       {"conv2d", Op::Conv2d},   {"batch_norm", Op::BatchNorm}, {"max_pool2d", Op::MaxPool2d},
      {"global_max_pool", Op::GlobalMaxPool}, {"global_avg_pool", Op::GlobalAvgPool}, {"add", Op::Add}, {"mul", Op::Mul},
      {"abs_diff", Op::AbsDiff},  {"square", Op::Square},   {"activation", Op::Activation}, {"concat", Op::Concat},
      {"reshape", Op::Reshape},   {"permute", Op::Permute}, {"dense", Op::Dense},
  };
  for (const auto& [name, value] : ops) {
    if (op == name) return value;
  }
  typeError(env, where + ".op: unknown op " + op);
}

whaleid::Act parseActivation(Napi::Env env, const std::string& a, const std::string& where) {
  if (a == "linear") return whaleid::Act::Linear;
  if (a == "relu") return whaleid::Act::Relu;
  if (a == "sigmoid") return whaleid::Act::Sigmoid;
  if (a == "tanh") return whaleid::Act::Tanh;
  typeError(env, where + ".activation: unknown activation " + a);
}

whaleid::NetSpec parseSpec(Napi::Object o) {
  whaleid::NetSpec spec;
  spec.values = intField(o, "values", "spec");
  spec.output = intField(o, "output", "spec");
  Napi::Value params = o.Get("params"), nodes = o.Get("nodes");
  if (!params.IsArray() || !nodes.IsArray()) typeError(o.Env(), "spec: params and nodes must be arrays");
  auto pa = params.As<Napi::Array>();
  for (uint32_t i = 0; i < pa.Length(); i++) {
    const std::string where = "spec.params[" + std::to_string(i) + "]";
    Napi::Value pv = pa.Get(i);
    if (!pv.IsObject()) typeError(o.Env(), where + ": expected an object");
    auto p = pv.As<Napi::Object>();
    whaleid::ParamSpec ps;
    ps.name = stringField(p, "name", where);
    ps.shape = intsField(p, "shape", where);
    ps.layout = stringField(p, "layout", where, "plain");
    if (ps.layout != "plain" && ps.layout != "hwio") typeError(o.Env(), where + ".layout: expected 'plain' or 'hwio'");
    if (ps.layout == "hwio" && ps.shape.size() != 4) typeError(o.Env(), where + ": an hwio kernel has 4 dimensions");
    ps.trainable = p.Get("trainable").ToBoolean();
    ps.l2 = numberField(p, "l2", where, false, 0);
    spec.params.push_back(ps);
  }
  auto na = nodes.As<Napi::Array>();
  for (uint32_t i = 0; i < na.Length(); i++) {
    const std::string where = "spec.nodes[" + std::to_string(i) + "]";
    Napi::Value nv = na.Get(i);
    if (!nv.IsObject()) typeError(o.Env(), where + ": expected an object");
    auto n = nv.As<Napi::Object>();
    NodeSpec ns;
    ns.op = parseOp(o.Env(), stringField(n, "op", where), where);
    for (auto in : intsField(n, "inputs", where)) ns.inputs.push_back(static_cast<int>(in));
    ns.out = intField(n, "out", where);
    ns.index = intField(n, "index", where, false, 0);
    ns.kernel = intField(n, "kernel", where, false);
    ns.bias = intField(n, "bias", where, false);
    ns.gamma = intField(n, "gamma", where, false);
    ns.beta = intField(n, "beta", where, false);
    ns.mean = intField(n, "mean", where, false);
    ns.variance = intField(n, "variance", where, false);
    ns.strides = intsField(n, "strides", where);
    ns.dilation = intsField(n, "dilation", where);
    ns.pads = intsField(n, "pads", where);
    ns.poolSize = intsField(n, "poolSize", where);
    ns.shape = intsField(n, "shape", where);
    ns.perm = intsField(n, "perm", where);
    ns.axis = static_cast<int64_t>(numberField(n, "axis", where, false, 0));
    ns.activation = parseActivation(o.Env(), stringField(n, "activation", where, "linear"), where);
    ns.epsilon = numberField(n, "epsilon", where, false, 1e-3);
    ns.momentum = numberField(n, "momentum", where, false, 0.99);
    const bool conv = ns.op == Op::Conv2d, pool = ns.op == Op::MaxPool2d;
    if ((conv || ns.op == Op::Dense) && ns.kernel < 0) typeError(o.Env(), where + ": needs a kernel");
    if (conv && (ns.strides.size() != 2 || ns.dilation.size() != 2 || ns.pads.size() != 4)) typeError(o.Env(), where + ": conv2d needs strides[2], dilation[2], pads[4]");
    if (pool && (ns.strides.size() != 2 || ns.poolSize.size() != 2)) typeError(o.Env(), where + ": max_pool2d needs strides[2], poolSize[2]");
    if (ns.op == Op::BatchNorm && (ns.mean < 0 || ns.variance < 0)) typeError(o.Env(), where + ": batch_norm needs mean and variance");
    spec.nodes.push_back(ns);
  }
  return spec;
}

std::vector<float> floats(Napi::Value v, const std::string& where);

// options.margin: { classes, subcenters, features, scale, margins: Float32Array }
whaleid::MarginOptions parseMargin(Napi::Object o) {
  whaleid::MarginOptions m;
  m.classes = static_cast<int64_t>(numberField(o, "classes", "options.margin"));
  m.subcenters = static_cast<int64_t>(numberField(o, "subcenters", "options.margin", false, 1));
  m.features = static_cast<int64_t>(numberField(o, "features", "options.margin", false, 0));
  m.scale = numberField(o, "scale", "options.margin");
  m.margins = floats(o.Get("margins"), "options.margin.margins");
  return m;
}

std::vector<float> floats(Napi::Value v, const std::string& where) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    throw Napi::TypeError::New(v.Env(), "native engine: " + where + ": expected a Float32Array");
  }
  auto a = v.As<Napi::Float32Array>();
  return std::vector<float>(a.Data(), a.Data() + a.ElementLength());
}

Napi::Float32Array toFloat32Array(Napi::Env env, const std::vector<float>& values) {
  auto a = Napi::Float32Array::New(env, values.size());
  std::copy(values.begin(), values.end(), a.Data());
  return a;
}

Napi::Array toJs(Napi::Env env, const std::vector<NamedArray>& arrays) {
  auto out = Napi::Array::New(env, arrays.size());
  for (size_t i = 0; i < arrays.size(); i++) {
    auto o = Napi::Object::New(env);
    o.Set("name", arrays[i].name);
    auto shape = Napi::Array::New(env, arrays[i].shape.size());
    for (size_t d = 0; d < arrays[i].shape.size(); d++) shape.Set(static_cast<uint32_t>(d), Napi::Number::New(env, static_cast<double>(arrays[i].shape[d])));
    o.Set("shape", shape);
    o.Set("values", toFloat32Array(env, arrays[i].values));
    out.Set(static_cast<uint32_t>(i), o);
  }
  return out;
}

std::vector<NamedArray> fromJs(Napi::Value v, const std::string& where) {
  if (!v.IsArray()) throw Napi::TypeError::New(v.Env(), "native engine: " + where + ": expected an array of { name, values }");
  auto a = v.As<Napi::Array>();
  std::vector<NamedArray> out;
  for (uint32_t i = 0; i < a.Length(); i++) {
    const std::string w = where + "[" + std::to_string(i) + "]";
    Napi::Value e = a.Get(i);
    if (!e.IsObject()) throw Napi::TypeError::New(v.Env(), "native engine: " + w + ": expected { name, values }");
    auto o = e.As<Napi::Object>();
    out.push_back({stringField(o, "name", w), {}, floats(o.Get("values"), w + ".values")});
  }
  return out;
}

whaleid::Pairs pairsFrom(const Napi::CallbackInfo& info, bool withLabels) {
  whaleid::Pairs p;
  p.a = floats(info[0], "a");
  p.b = floats(info[1], "b");
  size_t k = 2;
  if (withLabels) p.labels = floats(info[k++], "labels");
  if (!info[k].IsNumber() || !info[k + 1].IsNumber()) throw Napi::TypeError::New(info.Env(), "native engine: count and size must be numbers");
  p.count = info[k].As<Napi::Number>().Int64Value();
  p.size = info[k + 1].As<Napi::Number>().Int64Value();
  return p;
}

class NetWrap;

// Runs `work` off the event loop; resolves with `done`'s value on the JS thread.
class NetWork : public Napi::AsyncWorker {
 public:
  NetWork(Napi::Env env, NetWrap* owner, Napi::Object self, std::function<void(Net&)> work, std::function<Napi::Value(Napi::Env)> done)
      : Napi::AsyncWorker(env), owner_(owner), deferred_(Napi::Promise::Deferred::New(env)), work_(std::move(work)), done_(std::move(done)) {
    self_ = Napi::Persistent(self);
  }
  Napi::Promise Promise() const { return deferred_.Promise(); }
  void Execute() override;
  void OnOK() override;
  void OnError(const Napi::Error& e) override;

 private:
  NetWrap* owner_;
  Napi::ObjectReference self_;
  Napi::Promise::Deferred deferred_;
  std::function<void(Net&)> work_;
  std::function<Napi::Value(Napi::Env)> done_;
};

class NetWrap : public Napi::ObjectWrap<NetWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Net", {
        InstanceMethod("accumulate", &NetWrap::Accumulate),
        InstanceMethod("applyAdam", &NetWrap::ApplyAdam),
        InstanceMethod("predict", &NetWrap::Predict),
        InstanceMethod("gradients", &NetWrap::Gradients),
        InstanceMethod("clearGradients", &NetWrap::ClearGradients),
        InstanceMethod("setLearningRate", &NetWrap::SetLearningRate),
        InstanceMethod("getWeights", &NetWrap::GetWeights),
        InstanceMethod("setWeights", &NetWrap::SetWeights),
        InstanceMethod("getOptimizerState", &NetWrap::GetOptimizerState),
        InstanceMethod("setOptimizerState", &NetWrap::SetOptimizerState),
        InstanceMethod("save", &NetWrap::Save),
        InstanceMethod("dispose", &NetWrap::Dispose),
    });
  }

  explicit NetWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NetWrap>(info) {
    if (!info[0].IsObject() || !info[1].IsObject()) typeError(info.Env(), "new Net(spec, options): two objects expected");
    auto o = info[1].As<Napi::Object>();
    whaleid::NetOptions options;
    options.device = stringField(o, "device", "options", "cpu");
    options.threads = intField(o, "threads", "options", false, 1);
    options.bf16 = o.Get("bf16").ToBoolean();
    options.channelsLast = o.Get("channelsLast").ToBoolean();
    options.float64 = o.Get("float64").ToBoolean();
    options.deterministic = o.Has("deterministic") ? o.Get("deterministic").ToBoolean().Value() : true;
    options.loss = stringField(o, "loss", "options", "binary");
    options.seed = static_cast<int64_t>(numberField(o, "seed", "options", false, 0));
    if (o.Get("margin").IsObject()) options.margin = parseMargin(o.Get("margin").As<Napi::Object>());
    auto spec = info[0].As<Napi::Object>();
    try {
      // { torchscript: FILE, trainable? }: a TorchScript network; otherwise a layer spec
      net_ = spec.Get("torchscript").IsString()
                 ? whaleid::createScriptNet(spec.Get("torchscript").As<Napi::String>().Utf8Value(), options, static_cast<int64_t>(numberField(spec, "trainable", "spec", false, 0)))
                 : whaleid::createNet(parseSpec(spec), options);
    } catch (const std::exception& e) {
      throw Napi::Error::New(info.Env(), e.what());
    }
  }

  std::unique_ptr<Net> net_;
  bool busy_ = false;

 private:
  Net& ready(Napi::Env env) {
    if (!net_) throw Napi::Error::New(env, "native engine: the network was disposed");
    if (busy_) throw Napi::Error::New(env, "native engine: a step is still running on this network");
    return *net_;
  }

  template <typename F>
  auto guarded(Napi::Env env, F f) -> decltype(f(std::declval<Net&>())) {
    Net& net = ready(env);
    try {
      return f(net);
    } catch (const Napi::Error&) {
      throw;
    } catch (const std::exception& e) {
      throw Napi::Error::New(env, e.what());
    }
  }

  Napi::Value Start(const Napi::CallbackInfo& info, std::function<void(Net&)> work, std::function<Napi::Value(Napi::Env)> done) {
    ready(info.Env());
    busy_ = true;
    auto* w = new NetWork(info.Env(), this, info.This().As<Napi::Object>(), std::move(work), std::move(done));
    Napi::Promise p = w->Promise();
    w->Queue();
    return p;
  }

  // accumulate(a, b, labels, count, size, scale): Promise<loss>
  Napi::Value Accumulate(const Napi::CallbackInfo& info) {
    auto pairs = std::make_shared<whaleid::Pairs>(pairsFrom(info, true));
    if (!info[5].IsNumber()) typeError(info.Env(), "accumulate: scale must be a number");
    const double scale = info[5].As<Napi::Number>().DoubleValue();
    auto loss = std::make_shared<double>(0);
    return Start(info, [pairs, scale, loss](Net& net) { *loss = net.accumulate(*pairs, scale); },
                 [loss](Napi::Env env) { return Napi::Number::New(env, *loss); });
  }

  Napi::Value ApplyAdam(const Napi::CallbackInfo& info) {
    return Start(info, [](Net& net) { net.applyAdam(); }, [](Napi::Env env) { return env.Undefined(); });
  }

  // predict(a, b, count, size): Promise<Float32Array> (inference mode)
  Napi::Value Predict(const Napi::CallbackInfo& info) {
    auto pairs = std::make_shared<whaleid::Pairs>(pairsFrom(info, false));
    auto out = std::make_shared<std::vector<float>>();
    return Start(info, [pairs, out](Net& net) { *out = net.predict(*pairs); },
                 [out](Napi::Env env) { return toFloat32Array(env, *out); });
  }

  Napi::Value Gradients(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&](Net& net) -> Napi::Value { return toJs(info.Env(), net.gradients()); });
  }

  Napi::Value ClearGradients(const Napi::CallbackInfo& info) {
    guarded(info.Env(), [](Net& net) { net.clearGradients(); });
    return info.Env().Undefined();
  }

  Napi::Value SetLearningRate(const Napi::CallbackInfo& info) {
    if (!info[0].IsNumber()) typeError(info.Env(), "setLearningRate: a number expected");
    const double lr = info[0].As<Napi::Number>().DoubleValue();
    guarded(info.Env(), [lr](Net& net) { net.setLearningRate(lr); });
    return info.Env().Undefined();
  }

  Napi::Value GetWeights(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&](Net& net) -> Napi::Value { return toJs(info.Env(), net.getWeights()); });
  }

  Napi::Value SetWeights(const Napi::CallbackInfo& info) {
    auto weights = fromJs(info[0], "setWeights");
    guarded(info.Env(), [&](Net& net) { net.setWeights(weights); });
    return info.Env().Undefined();
  }

  // { iterations, m: NamedArray[], v: NamedArray[] } in tfjs layout
  Napi::Value GetOptimizerState(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&](Net& net) -> Napi::Value {
      auto o = Napi::Object::New(info.Env());
      o.Set("iterations", Napi::Number::New(info.Env(), static_cast<double>(net.iterations())));
      o.Set("m", toJs(info.Env(), net.getMoments(false)));
      o.Set("v", toJs(info.Env(), net.getMoments(true)));
      return o;
    });
  }

  Napi::Value SetOptimizerState(const Napi::CallbackInfo& info) {
    if (!info[0].IsObject()) typeError(info.Env(), "setOptimizerState: { iterations, m, v } expected");
    auto o = info[0].As<Napi::Object>();
    const auto iterations = static_cast<int64_t>(numberField(o, "iterations", "setOptimizerState"));
    auto m = fromJs(o.Get("m"), "setOptimizerState.m");
    auto v = fromJs(o.Get("v"), "setOptimizerState.v");
    guarded(info.Env(), [&](Net& net) { net.setOptimizerState(iterations, m, v); });
    return info.Env().Undefined();
  }

  // save(file): the TorchScript network, fine-tuned, as a TorchScript file
  Napi::Value Save(const Napi::CallbackInfo& info) {
    if (!info[0].IsString()) typeError(info.Env(), "save: a file name expected");
    const std::string file = info[0].As<Napi::String>().Utf8Value();
    guarded(info.Env(), [&](Net& net) { net.save(file); });
    return info.Env().Undefined();
  }

  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    if (busy_) throw Napi::Error::New(info.Env(), "native engine: cannot dispose while a step is running");
    net_.reset();
    return info.Env().Undefined();
  }
};

void NetWork::Execute() {
  try {
    work_(*owner_->net_);
  } catch (const std::exception& e) {
    SetError(e.what());
  } catch (...) {
    SetError("native engine: unknown error");
  }
}

void NetWork::OnOK() {
  owner_->busy_ = false;
  deferred_.Resolve(done_(Env()));
}

void NetWork::OnError(const Napi::Error& e) {
  owner_->busy_ = false;
  deferred_.Reject(e.Value());
}

Napi::Value TorchInfo(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  whaleid::TorchInfo t;
  try {
    t = whaleid::torchInfo();
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
  auto o = Napi::Object::New(env);
  o.Set("version", t.version);
  o.Set("cudaAvailable", t.cudaAvailable);
  o.Set("cudaDevices", Napi::Number::New(env, static_cast<double>(t.cudaDevices)));
  o.Set("cudnn", t.cudnn);
  o.Set("defaultThreads", t.defaultThreads);
  o.Set("parallel", t.parallel);
  return o;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("Net", NetWrap::Define(env));
  exports.Set("torchInfo", Napi::Function::New(env, TorchInfo));
  return exports;
}

}  // namespace

NODE_API_MODULE(whaleid_native, Init)
