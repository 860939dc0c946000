// oneDNN convolutions in torch layouts (NCL/NCHW/NCDHW data, OI.../GOI... weights) exposed as
// XLA FFI handlers for the CPU: forward (+ bias, + fused ReLU), backward-data and
// backward-weights (+ bias gradient). Python registers them with jax.ffi.register_ffi_target.
//
// Every call looks its primitives up in a cache keyed by the full problem (shapes, strides,
// paddings, dilations, groups, flags), so oneDNN's primitive descriptors are built once per
// shape. Data arrive either in torch's plain layouts, and a primitive may then use oneDNN's
// blocked layouts inside (layout "any") with reorders into thread-local scratch buffers, or
// channels-last (XLA stores them so when the Python side declares that layout), which the
// primitives read and write directly.

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "oneapi/dnnl/dnnl.hpp"
#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;
using dnnl::memory;
using tag = dnnl::memory::format_tag;
using dims = dnnl::memory::dims;

namespace {

std::atomic<int> g_threads{0};         // 0: leave OpenMP's default
// Layouts inside the primitives: 1 "any" (oneDNN picks its blocked layouts, reorders at the
// boundary), 0 plain throughout, 2 (default) by rule: plain for strided convolutions of inputs
// with fewer than 4 channels, blocked otherwise, 3 measured: the first call of each problem
// times both and keeps the faster. Neither layout wins everywhere: on AVX2, LeNet's 1-channel
// 5x5 conv is 30x faster blocked, AlexNet's 1-channel 11x11/4 conv 8x faster plain. The rule
// is the default because a measured choice can differ between runs, and with it the rounding
// of the results; results must not depend on timing.
std::atomic<int> g_blocked{2};

dnnl::engine& cpu_engine() {
  static dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  return eng;
}

void set_threads_for_this_thread() {
  thread_local int current = -1;
  int want = g_threads.load(std::memory_order_relaxed);
  if (want > 0 && want != current) {
    omp_set_num_threads(want);
    current = want;
  }
}

// Grow-only, 64-byte aligned scratch buffers, one set per calling thread.
void* scratch(int slot, size_t bytes) {
  struct Buf {
    void* p = nullptr;
    size_t n = 0;
    ~Buf() { std::free(p); }
  };
  thread_local Buf bufs[8];
  Buf& b = bufs[slot];
  if (b.n < bytes) {
    std::free(b.p);
    size_t n = (bytes + 63) / 64 * 64;
    b.p = std::aligned_alloc(64, n);
    b.n = b.p ? n : 0;
    // Caught by the handler's try/catch: an FFI error instead of oneDNN writing through null.
    if (!b.p) throw std::runtime_error("no memory for " + std::to_string(n) + " scratch bytes");
  }
  return b.p;
}

// What a cached primitive computes.
enum Kind : int64_t { kFwd, kBwdData, kBwdWeights, kBwd };

using Key = std::vector<int64_t>;

struct KeyHash {
  size_t operator()(const Key& k) const {
    size_t h = 0;
    for (int64_t v : k) h ^= std::hash<int64_t>()(v) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    return h;
  }
};

// A program with more distinct convolution problems than this rebuilds its primitives as they
// come back, instead of keeping every primitive (and its memory) for the life of the process.
constexpr size_t kMaxCachedProblems = 512;

// The convolution problem in oneDNN's terms (all torch-plain at the boundary).
struct Problem {
  dims src, wei, dst, bias;  // bias empty when absent
  dims strides, dilates, pad_l, pad_r;
  int64_t groups;
  bool relu;
  int mode = 1;  // 1: blocked ("any") layouts inside the primitives, 0: plain
  bool channels_last = false;  // activations stored (N, *spatial, C) by XLA

  // The problem as a flat list of integers: the key of the primitive and layout caches
  // (each dims list is preceded by its length, so no two problems share a key).
  Key key(Kind kind) const {
    Key k{kind, mode, channels_last, groups, relu};
    for (const dims* d : {&src, &wei, &dst, &bias, &strides, &dilates, &pad_l, &pad_r}) {
      k.push_back(static_cast<int64_t>(d->size()));
      k.insert(k.end(), d->begin(), d->end());
    }
    return k;
  }
};

tag plain_tag(size_t ndims) {
  switch (ndims) {
    case 1: return tag::a;
    case 3: return tag::abc;
    case 4: return tag::abcd;
    case 5: return tag::abcde;
    case 6: return tag::abcdef;
    default: return tag::undef;
  }
}

memory::desc plain_md(const dims& d) {
  return memory::desc(d, memory::data_type::f32, plain_tag(d.size()));
}

memory::desc any_md(const Problem& p, const dims& d) {
  return memory::desc(d, memory::data_type::f32, p.mode ? tag::any : plain_tag(d.size()));
}

tag channels_last_tag(size_t ndims) {
  switch (ndims) {
    case 3: return tag::acb;
    case 4: return tag::acdb;
    case 5: return tag::acdeb;
    default: return tag::undef;
  }
}

// Activations (src, dst and their gradients) as XLA holds them: torch-plain, or channels-last,
// which the primitives then use as they are (no reorders).
memory::desc data_md(const Problem& p, const dims& d) {
  return memory::desc(d, memory::data_type::f32,
                      p.channels_last ? channels_last_tag(d.size()) : plain_tag(d.size()));
}

memory::desc prim_data_md(const Problem& p, const dims& d) {
  return p.channels_last ? data_md(p, d) : any_md(p, d);
}

// Primitives run on whichever XLA thread calls them, so each call passes its own scratchpad
// (oneDNN's library-managed one is tied to the creating thread).
dnnl::primitive_attr user_scratchpad() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

memory scratchpad(const memory::desc& md) {
  return memory(md, cpu_engine(), scratch(7, md.get_size() ? md.get_size() : 64));
}

// One argument of a primitive: the plain (user) descriptor, the primitive's descriptor and,
// when they differ, the reorder between them.
struct Port {
  memory::desc user, prim, pad;
  dnnl::reorder to_prim, to_user;
  bool reorder = false;

  void init(const memory::desc& user_md, const memory::desc& prim_md, bool is_output) {
    user = user_md;
    prim = prim_md;
    reorder = user_md != prim_md;
    if (!reorder) return;
    auto& eng = cpu_engine();
    auto attr = user_scratchpad();
    if (is_output) {
      dnnl::reorder::primitive_desc pd(eng, prim, eng, user, attr);
      pad = pd.scratchpad_desc();
      to_user = dnnl::reorder(pd);
    } else {
      dnnl::reorder::primitive_desc pd(eng, user, eng, prim, attr);
      pad = pd.scratchpad_desc();
      to_prim = dnnl::reorder(pd);
    }
  }

  // Memory the primitive reads: the user's buffer, or a reordered copy in scratch `slot`.
  memory input(dnnl::stream& s, void* ptr, int slot) const {
    auto& eng = cpu_engine();
    memory u(user, eng, ptr);
    if (!reorder) return u;
    memory p(prim, eng, scratch(slot, prim.get_size()));
    to_prim.execute(s, {{DNNL_ARG_FROM, u}, {DNNL_ARG_TO, p},
                        {DNNL_ARG_SCRATCHPAD, scratchpad(pad)}});
    return p;
  }
  memory output(void* ptr, int slot) const {
    auto& eng = cpu_engine();
    if (!reorder) return memory(user, eng, ptr);
    return memory(prim, eng, scratch(slot, prim.get_size()));
  }
  void finish(dnnl::stream& s, const memory& m, void* ptr) const {
    if (!reorder) return;
    memory u(user, cpu_engine(), ptr);
    to_user.execute(s, {{DNNL_ARG_FROM, m}, {DNNL_ARG_TO, u},
                        {DNNL_ARG_SCRATCHPAD, scratchpad(pad)}});
  }
};

dnnl::convolution_forward::primitive_desc fwd_pd(const Problem& p) {
  dnnl::primitive_attr attr = user_scratchpad();
  if (p.relu) {
    dnnl::post_ops ops;
    ops.append_eltwise(dnnl::algorithm::eltwise_relu, 0.f, 0.f);
    attr.set_post_ops(ops);
  }
  auto& eng = cpu_engine();
  if (p.bias.empty())
    return dnnl::convolution_forward::primitive_desc(
        eng, dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct,
        prim_data_md(p, p.src), any_md(p, p.wei), prim_data_md(p, p.dst), p.strides, p.dilates,
        p.pad_l, p.pad_r, attr);
  return dnnl::convolution_forward::primitive_desc(
      eng, dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct,
      prim_data_md(p, p.src), any_md(p, p.wei), plain_md(p.bias), prim_data_md(p, p.dst),
      p.strides, p.dilates, p.pad_l, p.pad_r, attr);
}

struct Fwd {
  dnnl::convolution_forward prim;
  Port src, wei, dst;
  memory::desc pad;
  bool has_bias;
  explicit Fwd(const Problem& p) {
    auto pd = fwd_pd(p);
    prim = dnnl::convolution_forward(pd);
    pad = pd.scratchpad_desc();
    src.init(data_md(p, p.src), pd.src_desc(), false);
    wei.init(plain_md(p.wei), pd.weights_desc(), false);
    dst.init(data_md(p, p.dst), pd.dst_desc(), true);
    has_bias = !p.bias.empty();
  }
};

struct BwdData {
  dnnl::convolution_backward_data prim;
  Port diff_dst, wei, diff_src;
  memory::desc pad;
  explicit BwdData(const Problem& p) {
    Problem q = p;
    q.relu = false;
    q.bias.clear();
    auto hint = fwd_pd(q);
    dnnl::convolution_backward_data::primitive_desc pd(
        cpu_engine(), dnnl::algorithm::convolution_direct, prim_data_md(p, p.src),
        any_md(p, p.wei), prim_data_md(p, p.dst), p.strides, p.dilates, p.pad_l, p.pad_r, hint,
        user_scratchpad());
    prim = dnnl::convolution_backward_data(pd);
    pad = pd.scratchpad_desc();
    diff_dst.init(data_md(p, p.dst), pd.diff_dst_desc(), false);
    wei.init(plain_md(p.wei), pd.weights_desc(), false);
    diff_src.init(data_md(p, p.src), pd.diff_src_desc(), true);
  }
};

struct BwdWeights {
  dnnl::convolution_backward_weights prim;
  Port src, diff_dst, diff_wei;
  memory::desc pad;
  explicit BwdWeights(const Problem& p) {
    Problem q = p;
    q.relu = false;
    auto hint = fwd_pd(q);
    auto& eng = cpu_engine();
    dnnl::convolution_backward_weights::primitive_desc pd =
        p.bias.empty()
            ? dnnl::convolution_backward_weights::primitive_desc(
                  eng, dnnl::algorithm::convolution_direct, prim_data_md(p, p.src),
                  any_md(p, p.wei), prim_data_md(p, p.dst), p.strides, p.dilates, p.pad_l,
                  p.pad_r, hint, user_scratchpad())
            : dnnl::convolution_backward_weights::primitive_desc(
                  eng, dnnl::algorithm::convolution_direct, prim_data_md(p, p.src),
                  any_md(p, p.wei), plain_md(p.bias), prim_data_md(p, p.dst), p.strides,
                  p.dilates, p.pad_l, p.pad_r, hint, user_scratchpad());
    prim = dnnl::convolution_backward_weights(pd);
    pad = pd.scratchpad_desc();
    src.init(data_md(p, p.src), pd.src_desc(), false);
    diff_dst.init(data_md(p, p.dst), pd.diff_dst_desc(), false);
    diff_wei.init(plain_md(p.wei), pd.diff_weights_desc(), true);
  }
};

// The primitives of type T for problem `p`, built on first use.
template <typename T, typename P>
std::shared_ptr<T> cached(const P& p, Kind kind) {
  static std::mutex mu;
  static std::unordered_map<Key, std::shared_ptr<T>, KeyHash> cache;
  Key k = p.key(kind);
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = cache.find(k);
    if (it != cache.end()) return it->second;
  }
  auto made = std::make_shared<T>(p);
  std::lock_guard<std::mutex> lock(mu);
  if (cache.size() >= kMaxCachedProblems) cache.clear();  // callers hold their own shared_ptr
  return cache.emplace(std::move(k), made).first->second;
}

dims to_dims(ffi::Span<const int64_t> s) { return dims(s.begin(), s.end()); }

// Build the problem from torch-shaped data/weight dims and the attributes. The weight is
// (O, I/g, k...) in torch; with groups > 1 oneDNN wants (g, O/g, I/g, k...), the same bytes.
Problem make_problem(const dims& src, const dims& torch_wei, const dims& dst,
                     ffi::Span<const int64_t> stride, ffi::Span<const int64_t> dilation,
                     ffi::Span<const int64_t> pad_l, ffi::Span<const int64_t> pad_r,
                     int64_t groups, bool bias, bool relu, bool channels_last) {
  Problem p;
  p.channels_last = channels_last;
  p.src = src;
  p.dst = dst;
  p.groups = groups;
  p.relu = relu;
  if (groups > 1) {
    p.wei = {groups, torch_wei[0] / groups};
    p.wei.insert(p.wei.end(), torch_wei.begin() + 1, torch_wei.end());
  } else {
    p.wei = torch_wei;
  }
  if (bias) p.bias = {torch_wei[0]};
  p.strides = to_dims(stride);
  p.dilates = to_dims(dilation);
  for (auto& d : p.dilates) d -= 1;  // oneDNN counts the gaps, torch the step
  p.pad_l = to_dims(pad_l);
  p.pad_r = to_dims(pad_r);
  return p;
}

template <typename F>
ffi::Error guarded(F&& f) {
  try {
    set_threads_for_this_thread();
    f();
    return ffi::Error::Success();
  } catch (const dnnl::error& e) {
    return ffi::Error::Internal(std::string("oneDNN convolution failed: ") + e.what());
  } catch (const std::exception& e) {
    return ffi::Error::Internal(std::string("oneDNN convolution failed: ") + e.what());
  }
}

// Run `exec(problem with mode)` in the layout mode chosen for this problem; in mode 3, time
// both modes on the first call (best of two runs each, after a warm-up that builds the
// primitives) and remember the faster. The last run is in the chosen mode, so the outputs
// are the chosen mode's.
template <typename Exec>
void tuned(const Problem& p, Kind kind, Exec&& exec) {
  int mode = p.channels_last ? 1 : g_blocked.load();  // channels-last: weights "any"
  Problem q = p;
  if (mode == 2) {
    bool strided = false;
    for (auto s : p.strides) strided = strided || s > 1;
    mode = (strided && p.src.size() > 1 && p.src[1] < 4) ? 0 : 1;
  }
  if (mode != 3) {
    q.mode = mode;
    exec(q);
    return;
  }
  static std::mutex mu;
  static std::unordered_map<Key, int, KeyHash> choice;
  q.mode = -1;
  Key key = q.key(kind);
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = choice.find(key);
    if (it != choice.end()) {
      q.mode = it->second;
      exec(q);
      return;
    }
  }
  double best[2] = {1e30, 1e30};
  for (int m : {0, 1}) {
    q.mode = m;
    exec(q);
    for (int r = 0; r < 2; ++r) {
      auto t0 = std::chrono::steady_clock::now();
      exec(q);
      std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
      best[m] = std::min(best[m], dt.count());
    }
  }
  q.mode = best[1] <= best[0] ? 1 : 0;
  {
    std::lock_guard<std::mutex> lock(mu);
    choice.emplace(key, q.mode);
  }
  exec(q);
}

// Backward-data on `c`, scratch slots 0 to 2; returns the diff_dst the primitive read (the
// caller's buffer or its reordered copy), which backward-weights may share.
memory run_bwd_data(dnnl::stream& s, const BwdData& c, void* dy, void* w, void* dx) {
  memory ddst = c.diff_dst.input(s, dy, 0);
  memory wei = c.wei.input(s, w, 1);
  memory dsrc = c.diff_src.output(dx, 2);
  c.prim.execute(s, {{DNNL_ARG_DIFF_DST, ddst}, {DNNL_ARG_WEIGHTS, wei},
                     {DNNL_ARG_DIFF_SRC, dsrc}, {DNNL_ARG_SCRATCHPAD, scratchpad(c.pad)}});
  c.diff_src.finish(s, dsrc, dx);
  return ddst;
}

// Backward-weights on `c` (built for `p`; + bias gradient when `p` has a bias), given diff_dst
// already in the primitive's layout; scratch slots `slot` and `slot` + 1.
void run_bwd_weights(dnnl::stream& s, const BwdWeights& c, const Problem& p, const memory& ddst,
                     void* x, void* dw, void* db, int slot) {
  memory src = c.src.input(s, x, slot);
  memory dwei = c.diff_wei.output(dw, slot + 1);
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, src},
                                       {DNNL_ARG_DIFF_DST, ddst},
                                       {DNNL_ARG_DIFF_WEIGHTS, dwei},
                                       {DNNL_ARG_SCRATCHPAD, scratchpad(c.pad)}};
  if (!p.bias.empty())
    args.emplace(DNNL_ARG_DIFF_BIAS, memory(plain_md(p.bias), cpu_engine(), db));
  c.prim.execute(s, args);
  c.diff_wei.finish(s, dwei, dw);
}

ffi::Error ConvFwdImpl(ffi::Buffer<ffi::F32> x, ffi::Buffer<ffi::F32> w,
                       ffi::Buffer<ffi::F32> b, ffi::ResultBuffer<ffi::F32> y,
                       ffi::Span<const int64_t> stride, ffi::Span<const int64_t> dilation,
                       ffi::Span<const int64_t> pad_l, ffi::Span<const int64_t> pad_r,
                       int64_t groups, int64_t has_bias, int64_t relu, int64_t channels_last) {
  return guarded([&] {
    Problem p = make_problem(to_dims(x.dimensions()), to_dims(w.dimensions()),
                             to_dims(y->dimensions()), stride, dilation, pad_l, pad_r, groups,
                             has_bias != 0, relu != 0, channels_last != 0);
    tuned(p, kFwd, [&](const Problem& p) {
      auto c = cached<Fwd>(p, kFwd);
      dnnl::stream s(cpu_engine());
      memory src = c->src.input(s, x.untyped_data(), 0);
      memory wei = c->wei.input(s, w.untyped_data(), 1);
      memory dst = c->dst.output(y->untyped_data(), 2);
      std::unordered_map<int, memory> args{
          {DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DST, dst},
          {DNNL_ARG_SCRATCHPAD, scratchpad(c->pad)}};
      if (c->has_bias)
        args.emplace(DNNL_ARG_BIAS, memory(plain_md(p.bias), cpu_engine(), b.untyped_data()));
      c->prim.execute(s, args);
      c->dst.finish(s, dst, y->untyped_data());
      s.wait();
    });
  });
}

ffi::Error ConvBwdDataImpl(ffi::Buffer<ffi::F32> dy, ffi::Buffer<ffi::F32> w,
                           ffi::ResultBuffer<ffi::F32> dx, ffi::Span<const int64_t> stride,
                           ffi::Span<const int64_t> dilation, ffi::Span<const int64_t> pad_l,
                           ffi::Span<const int64_t> pad_r, int64_t groups,
                           int64_t channels_last) {
  return guarded([&] {
    Problem p = make_problem(to_dims(dx->dimensions()), to_dims(w.dimensions()),
                             to_dims(dy.dimensions()), stride, dilation, pad_l, pad_r, groups,
                             false, false, channels_last != 0);
    tuned(p, kBwdData, [&](const Problem& p) {
      dnnl::stream s(cpu_engine());
      run_bwd_data(s, *cached<BwdData>(p, kBwdData), dy.untyped_data(), w.untyped_data(),
                   dx->untyped_data());
      s.wait();
    });
  });
}

ffi::Error ConvBwdWeightsImpl(ffi::Buffer<ffi::F32> x, ffi::Buffer<ffi::F32> dy,
                              ffi::ResultBuffer<ffi::F32> dw, ffi::ResultBuffer<ffi::F32> db,
                              ffi::Span<const int64_t> stride, ffi::Span<const int64_t> dilation,
                              ffi::Span<const int64_t> pad_l, ffi::Span<const int64_t> pad_r,
                              int64_t groups, int64_t has_bias, int64_t channels_last) {
  return guarded([&] {
    Problem p = make_problem(to_dims(x.dimensions()), to_dims(dw->dimensions()),
                             to_dims(dy.dimensions()), stride, dilation, pad_l, pad_r, groups,
                             has_bias != 0, false, channels_last != 0);
    tuned(p, kBwdWeights, [&](const Problem& p) {
      auto c = cached<BwdWeights>(p, kBwdWeights);
      dnnl::stream s(cpu_engine());
      memory ddst = c->diff_dst.input(s, dy.untyped_data(), 0);
      run_bwd_weights(s, *c, p, ddst, x.untyped_data(), dw->untyped_data(), db->untyped_data(), 1);
      s.wait();
    });
  });
}

// Both backward passes in one call: the reordered diff_dst is shared, and the two primitives
// run one after the other rather than as two custom calls XLA may run concurrently (each with
// a full OpenMP team, oversubscribing the cores).
ffi::Error ConvBwdImpl(ffi::Buffer<ffi::F32> x, ffi::Buffer<ffi::F32> w, ffi::Buffer<ffi::F32> dy,
                       ffi::ResultBuffer<ffi::F32> dx, ffi::ResultBuffer<ffi::F32> dw,
                       ffi::ResultBuffer<ffi::F32> db, ffi::Span<const int64_t> stride,
                       ffi::Span<const int64_t> dilation, ffi::Span<const int64_t> pad_l,
                       ffi::Span<const int64_t> pad_r, int64_t groups, int64_t has_bias,
                       int64_t channels_last) {
  return guarded([&] {
    Problem p = make_problem(to_dims(x.dimensions()), to_dims(w.dimensions()),
                             to_dims(dy.dimensions()), stride, dilation, pad_l, pad_r, groups,
                             has_bias != 0, false, channels_last != 0);
    tuned(p, kBwd, [&](const Problem& p) {
      Problem q = p;
      q.bias.clear();
      auto bd = cached<BwdData>(q, kBwdData);
      auto bw = cached<BwdWeights>(p, kBwdWeights);
      dnnl::stream s(cpu_engine());
      memory ddst = run_bwd_data(s, *bd, dy.untyped_data(), w.untyped_data(), dx->untyped_data());
      memory ddst_w = bw->diff_dst.prim == bd->diff_dst.prim
                          ? ddst
                          : bw->diff_dst.input(s, dy.untyped_data(), 3);
      run_bwd_weights(s, *bw, p, ddst_w, x.untyped_data(), dw->untyped_data(), db->untyped_data(),
                      4);
      s.wait();
    });
  });
}

}  // namespace

XLA_FFI_DEFINE_HANDLER_SYMBOL(jtorch_onednn_conv_fwd, ConvFwdImpl,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Attr<ffi::Span<const int64_t>>("stride")
                                  .Attr<ffi::Span<const int64_t>>("dilation")
                                  .Attr<ffi::Span<const int64_t>>("pad_l")
                                  .Attr<ffi::Span<const int64_t>>("pad_r")
                                  .Attr<int64_t>("groups")
                                  .Attr<int64_t>("has_bias")
                                  .Attr<int64_t>("relu")
                                  .Attr<int64_t>("channels_last"));

XLA_FFI_DEFINE_HANDLER_SYMBOL(jtorch_onednn_conv_bwd_data, ConvBwdDataImpl,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Attr<ffi::Span<const int64_t>>("stride")
                                  .Attr<ffi::Span<const int64_t>>("dilation")
                                  .Attr<ffi::Span<const int64_t>>("pad_l")
                                  .Attr<ffi::Span<const int64_t>>("pad_r")
                                  .Attr<int64_t>("groups")
                                  .Attr<int64_t>("channels_last"));

XLA_FFI_DEFINE_HANDLER_SYMBOL(jtorch_onednn_conv_bwd_weights, ConvBwdWeightsImpl,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Attr<ffi::Span<const int64_t>>("stride")
                                  .Attr<ffi::Span<const int64_t>>("dilation")
                                  .Attr<ffi::Span<const int64_t>>("pad_l")
                                  .Attr<ffi::Span<const int64_t>>("pad_r")
                                  .Attr<int64_t>("groups")
                                  .Attr<int64_t>("has_bias")
                                  .Attr<int64_t>("channels_last"));

XLA_FFI_DEFINE_HANDLER_SYMBOL(jtorch_onednn_conv_bwd, ConvBwdImpl,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Attr<ffi::Span<const int64_t>>("stride")
                                  .Attr<ffi::Span<const int64_t>>("dilation")
                                  .Attr<ffi::Span<const int64_t>>("pad_l")
                                  .Attr<ffi::Span<const int64_t>>("pad_r")
                                  .Attr<int64_t>("groups")
                                  .Attr<int64_t>("has_bias")
                                  .Attr<int64_t>("channels_last"));

extern "C" {
// Threads oneDNN's OpenMP teams use (0 keeps OpenMP's default); set to XLA's intra-op pool.
void jtorch_onednn_set_threads(int n) { g_threads.store(n); }
// 1: primitives may choose blocked layouts (with reorders); 0: plain layouts throughout.
void jtorch_onednn_set_blocked(int on) { g_blocked.store(on); }
int jtorch_onednn_version() {
  const dnnl_version_t* v = dnnl_version();
  return v->major * 10000 + v->minor * 100 + v->patch;
}
}
