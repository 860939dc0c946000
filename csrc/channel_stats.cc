// Per-channel sums over channels-last activations, for BatchNorm in training mode, as XLA FFI
// handlers for the CPU. With the oneDNN convolutions keeping activations channels-last, XLA's
// own reductions over (N, *spatial) would first copy each activation back to row-major; here
// the data are read as they lie: rows of C contiguous floats, one per (n, *spatial) position.
//
// Sums accumulate in double, in a fixed order (see reduce_rows): the same bits on every run.

#include <cstdint>
#include <vector>

#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;

namespace {

struct Rows {
  const float* data;
  int64_t rows, channels;
};

Rows as_rows(const ffi::Buffer<ffi::F32>& x) {
  auto d = x.dimensions();
  int64_t channels = d.size() > 1 ? d[1] : 1;
  int64_t total = 1;
  for (auto v : d) total *= v;
  return {x.typed_data(), channels ? total / channels : 0, channels};
}

// acc[c] += x[r, c] for rows [begin, end).
__attribute__((target_clones("avx512f", "avx2", "default")))
void add_rows(const float* x, int64_t begin, int64_t end, int64_t c, double* acc) {
  for (int64_t r = begin; r < end; ++r) {
    const float* row = x + r * c;
    for (int64_t j = 0; j < c; ++j) acc[j] += row[j];
  }
}

// acc[c] += (x[r, c] − shift[c])² for rows [begin, end).
__attribute__((target_clones("avx512f", "avx2", "default")))
void add_squared_deviations(const float* x, int64_t begin, int64_t end, int64_t c,
                            const double* shift, double* acc) {
  for (int64_t r = begin; r < end; ++r) {
    const float* row = x + r * c;
    for (int64_t j = 0; j < c; ++j) {
      double d = row[j] - shift[j];
      acc[j] += d * d;
    }
  }
}

// acc_g[c] += g[r, c]; acc_gx[c] += g[r, c]·(x[r, c] − shift[c]) for rows [begin, end).
__attribute__((target_clones("avx512f", "avx2", "default")))
void add_grad_products(const float* g, const float* x, int64_t begin, int64_t end, int64_t c,
                       const double* shift, double* acc_g, double* acc_gx) {
  for (int64_t r = begin; r < end; ++r) {
    const float* grow = g + r * c;
    const float* xrow = x + r * c;
    for (int64_t j = 0; j < c; ++j) {
      acc_g[j] += grow[j];
      acc_gx[j] += grow[j] * (static_cast<double>(xrow[j]) - shift[j]);
    }
  }
}

// The rows are cut into a fixed number of blocks that depends only on the row count, never on
// the thread count; each block's partial sums go to a slot of their own, and the slots are added
// in block order afterwards. So the result is the same bits on every run and with any number of
// threads (adding partials as threads finish, under a lock, would make the order, and so the
// rounding, depend on timing).
constexpr int64_t kBlocks = 64;

// Runs body(begin, end, partials) on each block of rows, with `width` zeroed doubles of its
// own, and returns the partials summed in block order.
template <typename Body>
std::vector<double> reduce_rows(int64_t rows, int64_t width, Body&& body) {
  int64_t blocks = rows < kBlocks ? rows : kBlocks;
  std::vector<double> parts(static_cast<size_t>(blocks * width), 0.0);
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < blocks; ++b) {
    body(rows * b / blocks, rows * (b + 1) / blocks, parts.data() + b * width);
  }
  std::vector<double> total(width, 0.0);
  for (int64_t b = 0; b < blocks; ++b) {
    const double* part = parts.data() + b * width;
    for (int64_t j = 0; j < width; ++j) total[j] += part[j];
  }
  return total;
}

// mean and biased variance per channel, two passes (as torch's CPU kernel).
ffi::Error ChannelMomentsImpl(ffi::Buffer<ffi::F32> x, ffi::ResultBuffer<ffi::F32> mean,
                              ffi::ResultBuffer<ffi::F32> var) {
  Rows r = as_rows(x);
  if (r.rows == 0) return ffi::Error::InvalidArgument("channel moments of an empty array");
  std::vector<double> m = reduce_rows(r.rows, r.channels, [&](int64_t b, int64_t e, double* a) {
    add_rows(r.data, b, e, r.channels, a);
  });
  for (auto& v : m) v /= static_cast<double>(r.rows);
  std::vector<double> sq = reduce_rows(r.rows, r.channels, [&](int64_t b, int64_t e, double* a) {
    add_squared_deviations(r.data, b, e, r.channels, m.data(), a);
  });
  for (int64_t j = 0; j < r.channels; ++j) {
    mean->typed_data()[j] = static_cast<float>(m[j]);
    var->typed_data()[j] = static_cast<float>(sq[j] / static_cast<double>(r.rows));
  }
  return ffi::Error::Success();
}

// sum(g) and sum(g·(x − mean)) per channel, one pass over g and x.
ffi::Error ChannelGradSumsImpl(ffi::Buffer<ffi::F32> g, ffi::Buffer<ffi::F32> x,
                               ffi::Buffer<ffi::F32> mean, ffi::ResultBuffer<ffi::F32> sum_g,
                               ffi::ResultBuffer<ffi::F32> sum_g_centred) {
  Rows r = as_rows(x);
  std::vector<double> shift(mean.typed_data(), mean.typed_data() + r.channels);
  std::vector<double> sums =
      reduce_rows(r.rows, 2 * r.channels, [&](int64_t b, int64_t e, double* a) {
        add_grad_products(g.typed_data(), r.data, b, e, r.channels, shift.data(), a,
                          a + r.channels);
      });
  for (int64_t j = 0; j < r.channels; ++j) {
    sum_g->typed_data()[j] = static_cast<float>(sums[j]);
    sum_g_centred->typed_data()[j] = static_cast<float>(sums[r.channels + j]);
  }
  return ffi::Error::Success();
}

}  // namespace

XLA_FFI_DEFINE_HANDLER_SYMBOL(jtorch_channel_moments, ChannelMomentsImpl,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>());

XLA_FFI_DEFINE_HANDLER_SYMBOL(jtorch_channel_grad_sums, ChannelGradSumsImpl,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>());
