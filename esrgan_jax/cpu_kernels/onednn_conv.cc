// XLA FFI handler: bf16 NHWC convolution (HWIO kernel, f32 bias, f32 accumulation) by oneDNN's forward convolution.
// Built by esrgan_jax/cpu_kernels/build.py; registered and called by esrgan_jax/cpu_kernels/onednn_conv.py.
#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "oneapi/dnnl/dnnl.hpp"
#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;

namespace {

// N, H, W, Cin, Cout, KH, KW, stride, padding.
using ShapeKey = std::array<int64_t, 9>;

// The primitives for one shape: the convolution and the reorder of the HWIO kernel into the layout it chose.
struct ConvPlan {
  dnnl::convolution_forward::primitive_desc pd;
  dnnl::convolution_forward conv;
  dnnl::memory::desc user_weights_md;
  bool reorder_weights;
  dnnl::reorder weights_reorder;
};

dnnl::engine& Engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

std::shared_ptr<const ConvPlan> MakePlan(const ShapeKey& k) {
  using dt = dnnl::memory::data_type;
  using tag = dnnl::memory::format_tag;
  const auto [n, h, w, cin, cout, kh, kw, stride, pad] = k;
  const int64_t oh = (h + 2 * pad - kh) / stride + 1, ow = (w + 2 * pad - kw) / stride + 1;
  // oneDNN's logical dims are NCHW / OIHW whatever the memory layout; the tags give NHWC and HWIO.
  dnnl::memory::desc src_md({n, cin, h, w}, dt::bf16, tag::nhwc);
  dnnl::memory::desc dst_md({n, cout, oh, ow}, dt::bf16, tag::nhwc);
  dnnl::memory::desc any_weights_md({cout, cin, kh, kw}, dt::bf16, tag::any);
  dnnl::memory::desc user_weights_md({cout, cin, kh, kw}, dt::bf16, tag::hwio);
  dnnl::memory::desc bias_md({cout}, dt::f32, tag::x);
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  dnnl::convolution_forward::primitive_desc pd(
      Engine(), dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, src_md, any_weights_md,
      bias_md, dst_md, {stride, stride}, {pad, pad}, {pad, pad}, attr);
  const bool reorder = pd.weights_desc() != user_weights_md;
  auto plan = std::make_shared<ConvPlan>(ConvPlan{pd, dnnl::convolution_forward(pd), user_weights_md, reorder, {}});
  if (reorder) plan->weights_reorder = dnnl::reorder(dnnl::reorder::primitive_desc(Engine(), user_weights_md,
                                                                                      Engine(), pd.weights_desc()));
  return plan;
}

// One plan per shape, made on first use.
std::shared_ptr<const ConvPlan> Plan(const ShapeKey& key) {
  static std::mutex mutex;
  static std::map<ShapeKey, std::shared_ptr<const ConvPlan>> plans;
  std::lock_guard<std::mutex> lock(mutex);
  auto& plan = plans[key];
  if (!plan) plan = MakePlan(key);
  return plan;
}

ffi::Error ConvBf16(ffi::Buffer<ffi::BF16> x, ffi::Buffer<ffi::BF16> kernel, ffi::Buffer<ffi::F32> bias,
                    ffi::ResultBuffer<ffi::BF16> y, int64_t stride, int64_t padding) {
  const auto xd = x.dimensions(), kd = kernel.dimensions();
  if (xd.size() != 4 || kd.size() != 4 || kd[2] != xd[3] || bias.element_count() != kd[3]) {
    return ffi::Error::InvalidArgument("onednn_conv: expected x [N,H,W,Cin], kernel [KH,KW,Cin,Cout], bias [Cout]");
  }
  try {
    const auto plan = Plan({xd[0], xd[1], xd[2], xd[3], kd[3], kd[0], kd[1], stride, padding});
    dnnl::engine& engine = Engine();
    dnnl::stream stream(engine);
    dnnl::memory src(plan->pd.src_desc(), engine, x.untyped_data());
    dnnl::memory dst(plan->pd.dst_desc(), engine, y->untyped_data());
    dnnl::memory b(plan->pd.bias_desc(), engine, bias.untyped_data());
    dnnl::memory user_weights(plan->user_weights_md, engine, kernel.untyped_data());
    thread_local std::vector<uint8_t> weights_buffer, scratchpad_buffer;
    dnnl::memory weights = user_weights;
    if (plan->reorder_weights) {
      weights_buffer.resize(plan->pd.weights_desc().get_size());
      weights = dnnl::memory(plan->pd.weights_desc(), engine, weights_buffer.data());
      plan->weights_reorder.execute(stream, user_weights, weights);
    }
    scratchpad_buffer.resize(plan->pd.scratchpad_desc().get_size());
    dnnl::memory scratchpad(plan->pd.scratchpad_desc(), engine, scratchpad_buffer.data());
    plan->conv.execute(stream, {{DNNL_ARG_SRC, src},
                                {DNNL_ARG_WEIGHTS, weights},
                                {DNNL_ARG_BIAS, b},
                                {DNNL_ARG_DST, dst},
                                {DNNL_ARG_SCRATCHPAD, scratchpad}});
    stream.wait();
  } catch (const dnnl::error& e) {
    return ffi::Error::Internal(std::string("onednn_conv: oneDNN failed: ") + e.what());
  }
  return ffi::Error::Success();
}

}  // namespace

XLA_FFI_DEFINE_HANDLER_SYMBOL(OneDnnConvBf16, ConvBf16,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::Buffer<ffi::BF16>>()
                                  .Arg<ffi::Buffer<ffi::BF16>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::BF16>>()
                                  .Attr<int64_t>("stride")
                                  .Attr<int64_t>("padding"));
