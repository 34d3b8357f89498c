// The contract between the thread drivers (parallel.cpp, reduce.cpp) and the per-ISA translation
// units: a sweep updates elements [begin, end) of one tensor, a span reduction folds a run of
// elements into one double, and each ISA unit provides a table of them, one per operation and element
// type. Nothing in this header depends on the instruction set.
#pragma once
#include <cstdint>
#include <type_traits>
#include <utility>

#include "pygd/optimizers.h"
#include "pygd/storage.h"

namespace pygd::cpu {

// Every level any build knows; a build has the ones of its architecture (compiled_isas()).
enum class Isa : int { kScalar, kAvx2, kAvx512, kNeon };

// NEON is baseline on aarch64 (no flag enables or disables it there), so its unit is built whenever
// the compiler targets it. Decided here from the compiler's own macros, not by the build system,
// so any build of csrc/cpu/*.cpp (CMakeLists.txt, a cross compiler) gets it. The x86
// levels need their units' flags, so the build (cmake/isa_units.cmake) defines PYGD_BUILD_AVX2 / PYGD_BUILD_AVX512.
#if defined(__aarch64__) && defined(__ARM_NEON)
#define PYGD_BUILD_NEON 1
#endif
// Element types in memory. The reductions and the trust-ratio driver take float32 and float64;
// the element-wise sweeps also take the narrow ones in the combinations Layout lists.
enum class Dtype : int { kFloat32, kFloat64, kBFloat16, kFloat16 };

// The combinations of per-stream dtypes a sweep runs (docs/low-precision.md has the table): the
// params (stream 0), the grads (stream 1), every state stream (2 and on), and an optional param
// copy, a write-only stream after the Op's own that receives the updated params, narrowed. Math is
// float64 for kFloat64, float32 for every other layout.
enum class Layout : int {
  kFloat32,           // every stream float32
  kFloat64,           // every stream float64
  kBFloat16,          // (A) every stream bfloat16: torch's fused CPU kernels on bfloat16 params
  kFloat16,           // (A) every stream float16
  kBFloat16Params,    // (B) params and grads bfloat16, states float32 (DeepSpeed's CPU Adam)
  kFloat16Params,     // (B) params and grads float16, states float32
  kBFloat16Copy,      // (C) float32 master params, grads and states; a bfloat16 copy written
  kFloat16Copy,       // (C) the same with a float16 copy
  kBFloat16CopyGrads, // (C) float32 master params and states, bfloat16 grads and copy
  kFloat16CopyGrads,  // (C) the same in float16
  kCount
};
constexpr Layout plain_layout(Dtype d) {
  return d == Dtype::kFloat64 ? Layout::kFloat64
         : d == Dtype::kBFloat16 ? Layout::kBFloat16
         : d == Dtype::kFloat16 ? Layout::kFloat16 : Layout::kFloat32;
}
// Whether a layout has the param copy stream (one stream after the Op's own).
constexpr bool has_copy(Layout l) { return int(l) >= int(Layout::kBFloat16Copy) && l != Layout::kCount; }
constexpr int dtype_size(Dtype d) { return d == Dtype::kFloat64 ? 8 : d == Dtype::kFloat32 ? 4 : 2; }

// A layout's types: Math, what the update computes in; Param, Grad and State, how streams 0, 1 and
// 2.. are stored; Copy, the param copy's (void: none).
template <class M, class P, class G, class S, class C = void>
struct Storage {
  using Math = M;
  using Param = P;
  using Grad = G;
  using State = S;
  using Copy = C;
};
template <Layout L> struct StorageOf;
template <> struct StorageOf<Layout::kFloat32> { using type = Storage<float, float, float, float>; };
template <> struct StorageOf<Layout::kFloat64> { using type = Storage<double, double, double, double>; };
template <> struct StorageOf<Layout::kBFloat16> { using type = Storage<float, BFloat16, BFloat16, BFloat16>; };
template <> struct StorageOf<Layout::kFloat16> { using type = Storage<float, Float16, Float16, Float16>; };
template <> struct StorageOf<Layout::kBFloat16Params> { using type = Storage<float, BFloat16, BFloat16, float>; };
template <> struct StorageOf<Layout::kFloat16Params> { using type = Storage<float, Float16, Float16, float>; };
template <> struct StorageOf<Layout::kBFloat16Copy> { using type = Storage<float, float, float, float, BFloat16>; };
template <> struct StorageOf<Layout::kFloat16Copy> { using type = Storage<float, float, float, float, Float16>; };
template <> struct StorageOf<Layout::kBFloat16CopyGrads> { using type = Storage<float, float, BFloat16, float, BFloat16>; };
template <> struct StorageOf<Layout::kFloat16CopyGrads> { using type = Storage<float, float, Float16, float, Float16>; };

// Every sweep starts at an index that is a multiple of kSweepAlign within its tensor, so threads
// rarely write the same cache line. (Results do not depend on the split: each element's update is
// the same arithmetic whichever thread, and whether SIMD body or single-element path, runs it.)
constexpr int64_t kSweepAlign = 64;

// step: the Op's Step<T>; streams: one base pointer per Op stream, null where a stream is absent;
// stream_unread: write the streams the step does not read (unread.h) with streaming stores, as the
// driver says when a call's arrays are too large to stay in cache (parallel.h).
using SweepFn = void (*)(const void* step, void* const* streams, int64_t begin, int64_t end, bool stream_unread);

template <class... Ops>
struct OpList {
  static constexpr int size = sizeof...(Ops);
  template <class Op>
  static constexpr int index_of() {
    int i = 0, found = -1;
    ((std::is_same_v<Op, Ops> ? (found = i, ++i) : ++i), ...);
    return found;
  }
};
// Every optimizer, the element-wise tools, every optimizer with GradScaler's unscaling fused in,
// then every trust-ratio optimizer's update with a ratio of 1 (trust_ratio.h: one fused pass).
template <class... Tools, class... Optimizer, class... Trust>
OpList<Optimizer..., Tools..., Unscaled<Optimizer>..., Untrusted<Trust>...> all_ops(TypeList<Optimizer...>,
                                                                                   TypeList<Trust...>);
using AllOps =
    decltype(all_ops<Probe, GradScale, GradClamp, GradAccumulate>(Optimizers{}, TrustRatioOptimizers{}));

// A compile-time constant, so no out-of-line helper is compiled into the per-ISA units.
template <class Op>
inline constexpr int kOpIndex = AllOps::index_of<Op>();

// The Ops that take every Layout: the element-wise optimizers (with GradScaler's unscaling too)
// and the probe, whose stream 1 is the read-only grads (source). The tools and the trust-ratio
// optimizers take kFloat32 and kFloat64 only.
template <class Op, class... Ts>
constexpr bool in_list(TypeList<Ts...>) {
  return (std::is_same_v<Op, Ts> || ...);
}
template <class Op>
struct TakesEveryLayout : std::bool_constant<in_list<Op>(Optimizers{}) || std::is_same_v<Op, Probe>> {};
template <class Op>
struct TakesEveryLayout<Unscaled<Op>> : TakesEveryLayout<Op> {};

struct SweepTable {
  SweepFn fn[AllOps::size][int(Layout::kCount)];

  template <class Op>
  SweepFn get(Layout layout) const {
    return fn[kOpIndex<Op>][int(layout)];
  }
};

// data: n elements of one tensor; p: the norm's order (used by NormKind::kPower only).
using ReduceSpanFn = double (*)(const void* data, int64_t n, double p);
// Joins per-span results, in order, into the running value of the whole list.
using CombineFn = double (*)(const double* partials, int64_t n);

struct ReduceTable {
  ReduceSpanFn span[int(NormKind::kCount)][2];
  CombineFn combine[int(NormKind::kCount)];
};

// The two passes of a trust-ratio optimizer (trust_ratio.h, trust.inl) over elements [begin, end)
// of one tensor. Pass 1 adds nothing up across calls: it returns the span's two sums of squares in
// sums[0], sums[1], folded in reduce.inl's fixed chains from `begin`; the driver starts spans at
// fixed blocks of each tensor. Pass 2 applies the tensor's scale (made in double, rounded to T).
using TrustReduceFn = void (*)(const void* step, void* const* streams, int64_t begin, int64_t end, double* sums);
using TrustApplyFn = void (*)(const void* step, void* const* streams, int64_t begin, int64_t end, double scale);

template <class... Ts>
OpList<Ts...> op_list(TypeList<Ts...>);
using TrustOps = decltype(op_list(TrustRatioOptimizers{}));

struct TrustTable {
  TrustReduceFn reduce[TrustOps::size][2];
  TrustApplyFn apply[TrustOps::size][2];
};

// One tensor of an Adafactor call (pygd/adafactor.h) as the factored passes (factored.inl) see it:
// its arrays (each of the call's dtype T), its size, and for a param of dim > 1 the shape of each
// of its matrices (rows, cols: its last two dims; size / (rows * cols) matrices), else rows = 0.
// mean_floors holds, per matrix, its row_var mean floored at eps1 (T), made between passes 1 and 2.
struct FactoredTensor {
  void* param;
  const void* grad;
  void* row_var;   // rows per matrix, matrix-major (torch's (..., R, 1))
  void* col_var;   // cols per matrix, matrix-major (torch's (..., 1, C))
  void* variance;  // size elements, where rows == 0
  int64_t size, rows, cols;
  const void* mean_floors;
};

// Pass 1 of a factored tensor: over columns [c0, c1) of matrix `matrix`, every row in order, the
// sums of g^2 in double: col_sums[c - c0] (rows added one after another) and row_partials[r] (the
// strip's part of row r, in reduce.inl's fixed chains). Pass 2: the new variance (dim <= 1), and
// sums[0] = sum of param^2, sums[1] = sum of u^2 over [begin, end), in the chains from `begin`.
// Pass 3: param = apply(param, u, scale) over [begin, end). step: Adafactor's Step<T>.
using FactorSumsFn = void (*)(const FactoredTensor& t, int64_t matrix, int64_t c0, int64_t c1, double* col_sums,
                              double* row_partials);
// Between passes 1 and 2, for one factored tensor: row_var and col_var from its pass-1 sums
// (col_sums: [matrix][col]; row_partials: [matrix][strip][row], strips of `strip` columns), and
// floors[m], matrix m's row_var mean floored at eps1 (T).
using FactorUpdateFn = void (*)(const void* step, const FactoredTensor& t, int64_t strip, const double* col_sums,
                                const double* row_partials, void* floors);
using FactoredReduceFn = void (*)(const void* step, const FactoredTensor& t, int64_t begin, int64_t end,
                                  double* sums);
using FactoredApplyFn = void (*)(const void* step, const FactoredTensor& t, int64_t begin, int64_t end,
                                 double scale);

struct FactoredTable {
  FactorSumsFn sums[2];
  FactorUpdateFn factors[2];
  FactoredReduceFn reduce[2];
  FactoredApplyFn apply[2];
};

struct IsaTables {
  SweepTable sweeps;
  ReduceTable reductions;
  TrustTable trust;
  FactoredTable factored;
};

// Defined by the per-ISA units that were compiled for this platform (see CMakeLists.txt, and above).
const IsaTables& scalar_tables();
const IsaTables& avx2_tables();
const IsaTables& avx512_tables();
const IsaTables& neon_tables();

}  // namespace pygd::cpu
