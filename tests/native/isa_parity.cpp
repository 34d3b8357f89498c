// ISA parity: every update the CPU driver knows (each optimizer with every combination of its flags,
// each optimizer with GradScaler's unscaling fused in, the gradient tools, the bandwidth probe, the
// trust-ratio optimizers through their two-pass driver and with a ratio of 1) and
// every gradient norm, run at every ISA level this build and CPU support, must give the scalar
// level's bits exactly. No Python and no pybind11: it calls the entry points the bindings call
// (cpu::run<Op> over a TensorList, cpu::parallel_norm), so it also runs where the extension cannot be
// built or imported, such as a static aarch64 binary under qemu-user (tests/test_native_isa.py).
//
// It restates no math: the expected values are the scalar ISA's own outputs (at one thread), and
// every other (ISA, thread count) is compared with them bit for bit. The data are random with NaN,
// infinities, signed zeros, subnormals and huge values sprinkled in, on a list of tensors of odd
// sizes, each starting at a different misalignment, so that every sweep runs its single-element
// head, its SIMD body and its tail, and several threads split the list.
//
// Prints one line per ISA and a summary; exits 1 on any mismatch (the first few are printed).
// --strict-nan: NaN results must agree in their bits too (see mismatch()).
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "cpu/dispatch.h"
#include "cpu/parallel.h"
#include "cpu/reduce.h"
#include "cpu/thread_count.h"
#include "cpu/trust.h"
#include "pygd/optimizers.h"

namespace {

using namespace pygd;
using namespace pygd::cpu;

// Odd sizes: a tensor shorter than any vector, ones that end mid-vector, one past a sweep block,
// and one of two whole 16k-element blocks of the norms and the trust-ratio driver and a partial
// third (also split across threads by the pool's chunks, as every tensor here is with the small
// grain set in main). Under qemu the run's time goes as the elements: no larger than that.
const std::vector<int64_t> kSizes = {1, 7, 33, 4097, 33001};
const int kThreadCounts[] = {1, 2, 3};

int g_failures = 0;
int g_nan_differences = 0;
bool g_strict_nan = false;
int64_t g_checks = 0;

// Where both values are NaN but their bits differ (sign or payload), the difference is counted and
// shown, and fails only with --strict-nan: IEEE 754 leaves which NaN an operation returns open, the
// compiler may commute a*b or a+b (and turn -(a*b) into (-a)*b) differently in scalar and vector
// code, and x86's default NaN is negative, so NaN bits need not agree between the levels there.
// Every other value must agree bit for bit (signed zeros included).
void mismatch(const std::string& what, bool both_nan) {
  if (both_nan && !g_strict_nan) {
    if (++g_nan_differences <= 5) std::printf("nan bits differ (allowed) %s\n", what.c_str());
    return;
  }
  if (++g_failures <= 20) std::printf("MISMATCH %s\n", what.c_str());
}

// ----------------------------------------------------------------------------- configurations

// Hyperparameter values by field name (the Configs' own `fields` names, hparams.h): plausible ones,
// so that the updates take their usual paths; anything not listed gets 0.5.
double value_for(const char* name) {
  const std::pair<const char*, double> table[] = {
      {"lr", 0.01},     {"momentum", 0.9}, {"dampening", 0.1}, {"weight_decay", 0.02},
      {"beta1", 0.9},   {"beta2", 0.999},  {"eps", 1e-8},      {"alpha", 0.99},
      {"lr_decay", 0.05}, {"scale", 0.37}};
  for (const auto& [field, value] : table)
    if (std::strcmp(field, name) == 0) return value;
  return 0.5;
}

struct IgnoreField {
  template <class F>
  void operator()(const char*, F&) const {}
};
template <class C, class = void>
struct HasFields : std::false_type {};
template <class C>
struct HasFields<C, std::void_t<decltype(C::fields(std::declval<C&>(), IgnoreField{}))>> : std::true_type {};

// Every combination of a Config's bool fields, each with the values above and once more with
// momentum and weight decay 0 (their "off" paths, which a nonzero value never takes).
template <class C>
std::vector<C> field_configs() {
  int bools = 0;
  C probe{};
  C::fields(probe, [&](const char*, auto& f) {
    if constexpr (std::is_same_v<std::decay_t<decltype(f)>, bool>) ++bools;
  });
  std::vector<C> out;
  for (int mask = 0; mask < (1 << bools); ++mask) {
    for (int off = 0; off < 2; ++off) {
      C c{};
      int bit = 0;
      C::fields(c, [&](const char* name, auto& f) {
        if constexpr (std::is_same_v<std::decay_t<decltype(f)>, bool>) {
          f = (mask >> bit++) & 1;
        } else {
          const bool zeroed = off && (!std::strcmp(name, "momentum") || !std::strcmp(name, "weight_decay"));
          f = zeroed ? 0.0 : value_for(name);
        }
      });
      out.push_back(c);
    }
  }
  return out;
}

template <class Op>
std::vector<typename Op::Config> configs_of();

// The tools' Configs have no field list (they do not cross from Python by name).
std::vector<GradScale::Config> tool_configs(GradScale) { return {{0.37}, {-2.5}}; }
std::vector<GradClamp::Config> tool_configs(GradClamp) { return {{0.5}, {1e30}}; }
std::vector<GradAccumulate::Config> tool_configs(GradAccumulate) { return {{0.25, false}, {0.25, true}}; }
// GradScaler's loss scale: a power of two, and one whose division rounds.
template <class Op>
std::vector<UnscaledConfig<Op>> tool_configs(Unscaled<Op>) {
  std::vector<UnscaledConfig<Op>> out;
  for (const auto& inner : configs_of<Op>())
    for (double scale : {1024.0, 3.0}) out.push_back({inner, scale});
  return out;
}

template <class Op>
std::vector<typename Op::Config> configs_of() {
  if constexpr (HasFields<typename Op::Config>::value) {
    return field_configs<typename Op::Config>();
  } else {
    return tool_configs(Op{});
  }
}

template <class Op, class = void>
struct HasName : std::false_type {};
template <class Op>
struct HasName<Op, std::void_t<decltype(Op::kName)>> : std::true_type {};

std::string tool_name(Probe) { return "probe"; }
std::string tool_name(GradScale) { return "grad_scale"; }
std::string tool_name(GradClamp) { return "grad_clamp"; }
std::string tool_name(GradAccumulate) { return "grad_accumulate"; }
template <class Op>
std::string name_of();
template <class Op>
std::string tool_name(Unscaled<Op>) { return "unscaled_" + name_of<Op>(); }
template <class Op>
std::string tool_name(Untrusted<Op>) { return "untrusted_" + name_of<Op>(); }
template <class Op>
struct IsUntrusted : std::false_type {};
template <class Op>
struct IsUntrusted<Untrusted<Op>> : std::true_type {};
template <class Op>
std::string name_of() {
  if constexpr (HasName<Op>::value && !IsUntrusted<Op>::value) {
    return Op::kName;
  } else {
    return tool_name(Op{});
  }
}

// ----------------------------------------------------------------------------- data

// A value for one element: mostly ordinary numbers of both signs, and now and then one of the
// values whose handling differs between careless implementations (NaN, infinities, -0, subnormals,
// overflow-prone magnitudes). The same seed gives the same data for every ISA.
template <class T>
T draw(std::mt19937_64& rng, bool specials) {
  using L = std::numeric_limits<T>;
  const uint64_t r = rng();
  if (specials && r % 29 == 0) {
    // Signalling NaNs too: an arithmetic operation quiets them, a select (the lanes' max) must not.
    const T special[] = {L::quiet_NaN(), -L::quiet_NaN(), L::signaling_NaN(), L::infinity(), -L::infinity(), T(0), -T(0),
                         L::denorm_min(), -L::denorm_min() * T(3), L::min(), L::max() / T(4), T(1e-30)};
    return special[(r >> 8) % (sizeof special / sizeof special[0])];
  }
  const double u = double(r >> 11) * 0x1p-53;  // [0, 1)
  const double magnitude = std::ldexp(0.5 + u, int((r >> 3) % 13) - 8);
  return T((r & 1) ? -magnitude : magnitude);
}

// One list of tensors for an Op: `streams` arrays per tensor, the tensors at misalignments of
// 0, 1, 2 ... elements from a 64-byte boundary (the sweep peels to vector alignment).
template <class T>
struct Buffers {
  int streams;
  std::vector<std::vector<T>> storage;  // [tensor * streams + stream], with a margin in front
  std::vector<int64_t> shift;           // elements past the boundary where each tensor starts

  Buffers(int stream_count, uint64_t seed, bool specials) : streams(stream_count) {
    allocate();
    // The values go where the tensors start (which depends on where the allocator put each
    // vector), so that the same seed gives the same tensors.
    std::mt19937_64 rng(seed);
    for (size_t j = 0; j < kSizes.size(); ++j)
      for (int k = 0; k < streams; ++k)
        for (int64_t e = 0; e < kSizes[j]; ++e) data(j, k)[e] = draw<T>(rng, specials);
  }
  // Fresh buffers holding `initial`'s values: each run starts from a copy, not a new draw (under
  // qemu the draws cost more than the runs).
  static Buffers copy_of(const Buffers& initial) {
    Buffers out(initial.streams);
    for (size_t j = 0; j < kSizes.size(); ++j)
      for (int k = 0; k < out.streams; ++k)
        std::memcpy(out.data(j, k), initial.data(j, k), size_t(kSizes[j]) * sizeof(T));
    return out;
  }
  T* data(size_t j, int k) { return const_cast<T*>(std::as_const(*this).data(j, k)); }
  const T* data(size_t j, int k) const {
    const T* base = storage[j * size_t(streams) + size_t(k)].data();
    const uintptr_t to_boundary = (64 - reinterpret_cast<uintptr_t>(base) % 64) % 64 / sizeof(T);
    return base + to_boundary + shift[j];
  }
  // The list the bindings would gather; streams whose bit is in `absent` are null (an optional
  // stream not given: update() never loads or stores a null stream, sweep.inl).
  TensorList list(unsigned absent) {
    TensorList out;
    out.reset(streams);
    for (size_t j = 0; j < kSizes.size(); ++j) {
      for (int k = 0; k < streams; ++k) out.pointers.push_back((absent >> k & 1u) ? nullptr : data(j, k));
      out.offsets.push_back(out.offsets.back() + kSizes[j]);
    }
    return out;
  }

 private:
  explicit Buffers(int stream_count) : streams(stream_count) { allocate(); }
  void allocate() {
    for (size_t j = 0; j < kSizes.size(); ++j) {
      for (int k = 0; k < streams; ++k) storage.emplace_back(size_t(kSizes[j]) + 64 / sizeof(T) + 8);
      shift.push_back(int64_t(j % (64 / sizeof(T))));
    }
  }
};

template <class T>
uint64_t bits(T x) {
  if constexpr (sizeof(T) == 4) {
    uint32_t b;
    std::memcpy(&b, &x, 4);
    return b;
  } else {
    uint64_t b;
    std::memcpy(&b, &x, 8);
    return b;
  }
}

void set_threads(int n) { set_thread_count(n, ThreadSource::kSetNumThreads); }

// ----------------------------------------------------------------------------- sweeps

struct Tally {
  int64_t runs = 0;
};

// The trust-ratio optimizers (pygd/trust_ratio.h) run through their own driver (cpu/trust.h), on
// data without NaN or infinities: one of those makes a tensor's norms, and so all of it, NaN, which
// would leave little but NaN bits to compare (each also runs, ratio 1, as Untrusted<Op> in AllOps).
template <class Op>
constexpr bool kTrustRatio = TrustOps::index_of<Op>() >= 0;

// Two steps (step 1, then step 2: SGD's first-step path and the bias corrections move) of Op with
// `config` on a copy of `initial`, at the active ISA and thread count.
template <class Op, class T>
Buffers<T> run_steps(const typename Op::Config& config, const Buffers<T>& initial, unsigned absent) {
  Buffers<T> b = Buffers<T>::copy_of(initial);
  const TensorList list = b.list(absent);
  const Dtype dtype = std::is_same_v<T, float> ? Dtype::kFloat32 : Dtype::kFloat64;
  for (int64_t step = 1; step <= 2; ++step) {
    if constexpr (kTrustRatio<Op>) run_trust<Op>(config, step, dtype, list);
    else run<Op>(config, step, dtype, list);
  }
  return b;
}

template <class Op, class T>
void check_op(const std::vector<Isa>& isas, std::vector<Tally>& tallies, uint64_t& seed) {
  const auto configs = configs_of<Op>();
  const char* dtype = std::is_same_v<T, float> ? "float32" : "float64";
  for (size_t c = 0; c < configs.size(); ++c) {
    ++seed;
    // Odd configs (momentum and weight decay 0 for the optimizers) also leave the optional streams
    // out, as a caller would.
    const unsigned absent = (c % 2) ? Op::kOptional : 0u;
    select_isa(Isa::kScalar);
    set_threads(1);
    const Buffers<T> initial(Op::kStreams, seed, !kTrustRatio<Op>);
    Buffers<T> expected = run_steps<Op, T>(configs[c], initial, absent);
    for (size_t i = 0; i < isas.size(); ++i) {
      for (int threads : kThreadCounts) {
        select_isa(isas[i]);
        set_threads(threads);
        Buffers<T> got = run_steps<Op, T>(configs[c], initial, absent);
        ++tallies[i].runs;
        for (size_t j = 0; j < kSizes.size(); ++j) {
          for (int k = 0; k < Op::kStreams; ++k) {
            const T* want = expected.data(j, k);
            const T* have = got.data(j, k);
            for (int64_t e = 0; e < kSizes[j]; ++e) {
              ++g_checks;
              if (bits(want[e]) != bits(have[e])) {
                char line[300];
                std::snprintf(line, sizeof line,
                              "%s %s config %zu isa %s threads %d: tensor %zu (size %" PRId64
                              ") stream %d element %" PRId64 ": scalar %a (bits %" PRIx64 "), got %a (bits %" PRIx64 ")",
                              name_of<Op>().c_str(), dtype, c, isa_name(isas[i]), threads, j, kSizes[j],
                              k, e, double(want[e]), bits(want[e]), double(have[e]), bits(have[e]));
                mismatch(line, want[e] != want[e] && have[e] != have[e]);
                e = kSizes[j];  // one report per stream
              }
            }
          }
        }
      }
    }
  }
}

template <class... Ops>
void check_all_ops(OpList<Ops...>, const std::vector<Isa>& isas, std::vector<Tally>& tallies, int& ops,
                   uint64_t seed = 0) {
  ((check_op<Ops, float>(isas, tallies, seed), check_op<Ops, double>(isas, tallies, seed)), ...);
  ops += int(sizeof...(Ops));
}

template <class... Ops>
std::string op_names(OpList<Ops...>) {
  std::string out;
  ((out += (out.empty() ? "" : " ") + name_of<Ops>()), ...);
  return out;
}

// ----------------------------------------------------------------------------- narrow layouts

// The low-precision layouts (cpu/sweeps.h, Layout; docs/low-precision.md) of every Op that takes
// them: each stream stored as the layout says (bfloat16, float16 or float32; a (C) layout's copy
// after the Op's own), values drawn as float32 (specials included) and stored in that type.
template <class E>
E stored(float x) {
  if constexpr (std::is_same_v<E, BFloat16>) return narrow_bfloat16(x);
  else if constexpr (std::is_same_v<E, Float16>) return narrow_float16(x);
  else return x;
}
template <class E>
float widened(E x) {
  if constexpr (std::is_same_v<E, float>) return x;
  else return widen(x);
}
template <class E>
uint32_t element_bits(E x) {
  if constexpr (std::is_same_v<E, float>) return uint32_t(bits(x));
  else return x.bits;
}

template <class Op, class S>
struct LayoutBuffers {
  static constexpr bool kCopy = !std::is_void_v<typename S::Copy>;
  static constexpr int kCount = Op::kStreams + (kCopy ? 1 : 0);
  std::vector<std::vector<float>> storage;  // [tensor * kCount + stream], room for any element type
  std::vector<int64_t> shift;

  static int size_of(int k) {
    return k == 0 ? int(sizeof(typename S::Param)) : k == 1 ? int(sizeof(typename S::Grad))
           : k < Op::kStreams ? int(sizeof(typename S::State)) : 2;
  }
  template <class F>
  static void with_type(int k, F&& f) {  // f(E{}) with stream k's element type
    if (k == 0) f(typename S::Param{});
    else if (k == 1) f(typename S::Grad{});
    else if (k < Op::kStreams) f(typename S::State{});
    else if constexpr (kCopy) f(typename S::Copy{});
  }

  LayoutBuffers(uint64_t seed) {
    for (size_t j = 0; j < kSizes.size(); ++j) {
      for (int k = 0; k < kCount; ++k) storage.emplace_back(size_t(kSizes[j]) + 32);
      shift.push_back(int64_t(j % 16));
    }
    std::mt19937_64 rng(seed);
    for (size_t j = 0; j < kSizes.size(); ++j)
      for (int k = 0; k < kCount; ++k)
        with_type(k, [&](auto e) {
          using E = decltype(e);
          E* d = static_cast<E*>(data(j, k));
          for (int64_t i = 0; i < kSizes[j]; ++i) d[i] = stored<E>(draw<float>(rng, true));
        });
  }
  void* data(size_t j, int k) {
    auto* base = reinterpret_cast<unsigned char*>(storage[j * kCount + size_t(k)].data());
    const uintptr_t to_boundary = (64 - reinterpret_cast<uintptr_t>(base) % 64) % 64;
    return base + to_boundary + shift[j] * size_of(k);
  }
  TensorList list(unsigned absent) {
    TensorList out;
    out.reset(kCount);
    for (size_t j = 0; j < kSizes.size(); ++j) {
      for (int k = 0; k < kCount; ++k)
        out.pointers.push_back(k < Op::kStreams && (absent >> k & 1u) ? nullptr : data(j, k));
      out.offsets.push_back(out.offsets.back() + kSizes[j]);
    }
    return out;
  }
};

// Two configs each (every optional stream present, then absent), threads 1 and 3: the math is the
// float32 layout's, checked above with every config; this holds the conversions to the scalar
// level's bits (and keeps the NEON run under qemu short).
const int kNarrowThreadCounts[] = {1, 3};

template <class Op, Layout L>
void check_layout(const std::vector<Isa>& isas, std::vector<Tally>& tallies, uint64_t& seed) {
  using S = typename StorageOf<L>::type;
  auto configs = configs_of<Op>();
  if (configs.size() > 2) configs.resize(2);
  auto run_steps = [&](size_t c, unsigned absent) {
    LayoutBuffers<Op, S> b(seed);
    const TensorList list = b.list(absent);
    for (int64_t step = 1; step <= 2; ++step) run<Op>(configs[c], step, L, list);
    return b;
  };
  for (size_t c = 0; c < configs.size(); ++c) {
    ++seed;
    const unsigned absent = (c % 2) ? Op::kOptional : 0u;
    select_isa(Isa::kScalar);
    set_threads(1);
    auto expected = run_steps(c, absent);
    for (size_t i = 0; i < isas.size(); ++i) {
      for (int threads : kNarrowThreadCounts) {
        select_isa(isas[i]);
        set_threads(threads);
        auto got = run_steps(c, absent);
        ++tallies[i].runs;
        for (size_t j = 0; j < kSizes.size(); ++j) {
          for (int k = 0; k < LayoutBuffers<Op, S>::kCount; ++k) {
            LayoutBuffers<Op, S>::with_type(k, [&](auto e) {
              using E = decltype(e);
              const E* want = static_cast<const E*>(expected.data(j, k));
              const E* have = static_cast<const E*>(got.data(j, k));
              for (int64_t n = 0; n < kSizes[j]; ++n) {
                ++g_checks;
                if (element_bits(want[n]) != element_bits(have[n])) {
                  const float w = widened(want[n]), h = widened(have[n]);
                  char line[300];
                  std::snprintf(line, sizeof line,
                                "%s layout %d config %zu isa %s threads %d: tensor %zu stream %d element %" PRId64
                                ": scalar %a (bits %x), got %a (bits %x)",
                                name_of<Op>().c_str(), int(L), c, isa_name(isas[i]), threads, j, k, n, double(w),
                                unsigned(element_bits(want[n])), double(h), unsigned(element_bits(have[n])));
                  mismatch(line, w != w && h != h);
                  n = kSizes[j];
                }
              }
            });
          }
        }
      }
    }
  }
}

template <class Op, int... L>
void check_layouts(std::integer_sequence<int, L...>, const std::vector<Isa>& isas, std::vector<Tally>& tallies,
                   uint64_t& seed) {
  (check_layout<Op, Layout(L)>(isas, tallies, seed), ...);
}

// Every narrow layout (those after kFloat64) of every optimizer and the probe (GradScaler's
// unscaled forms share their loads and stores).
template <class... Ops>
int check_narrow_layouts(OpList<Ops...>, const std::vector<Isa>& isas, std::vector<Tally>& tallies) {
  uint64_t seed = 1u << 24;
  int ops = 0;
  auto one = [&](auto op) {
    using Op = decltype(op);
    if constexpr (in_list<Op>(Optimizers{}) || std::is_same_v<Op, Probe>) {
      ++ops;
      check_layouts<Op>(std::integer_sequence<int, 2, 3, 4, 5, 6, 7, 8, 9>{}, isas, tallies, seed);
    }
  };
  (one(Ops{}), ...);
  return ops;
}

// ----------------------------------------------------------------------------- norms

template <class T>
int check_norms(const std::vector<Isa>& isas) {
  struct Norm {
    NormKind kind;
    double p;
    const char* name;
  };
  const Norm norms[] = {{NormKind::kL2, 2, "l2"}, {NormKind::kL1, 1, "l1"}, {NormKind::kInf, 0, "inf"},
                        {NormKind::kPower, 3, "p=3"}, {NormKind::kPower, 0.5, "p=0.5"}};
  const Dtype dtype = std::is_same_v<T, float> ? Dtype::kFloat32 : Dtype::kFloat64;
  int count = 0;
  for (bool specials : {false, true}) {
    Buffers<T> grads(1, 1000 + specials, specials);
    const TensorList list = grads.list(0);
    for (const Norm& norm : norms) {
      select_isa(Isa::kScalar);
      set_threads(1);
      const double want = parallel_norm(norm.kind, norm.p, dtype, list);
      for (Isa isa : isas) {
        for (int threads : kThreadCounts) {
          select_isa(isa);
          set_threads(threads);
          const double have = parallel_norm(norm.kind, norm.p, dtype, list);
          ++count;
          if (bits(want) != bits(have)) {
            char line[200];
            std::snprintf(line, sizeof line, "norm %s %s%s isa %s threads %d: scalar %a, got %a", norm.name,
                          std::is_same_v<T, float> ? "float32" : "float64", specials ? " (NaN/inf)" : "",
                          isa_name(isa), threads, want, have);
            mismatch(line, want != want && have != have);
          }
        }
      }
    }
  }
  return count;
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--strict-nan") == 0) {
      g_strict_nan = true;
    } else {
      std::printf("usage: %s [--strict-nan]\n", argv[0]);
      return 2;
    }
  }
  const std::vector<Isa> isas = supported_isas();
  std::string names;
  for (Isa isa : isas) names += std::string(names.empty() ? "" : " ") + isa_name(isa);
  std::string compiled;
  for (Isa isa : compiled_isas()) compiled += std::string(compiled.empty() ? "" : " ") + isa_name(isa);
  std::printf("compiled isas: %s\nisas tested: %s\n", compiled.c_str(), names.c_str());
  std::string sizes;
  for (int64_t n : kSizes) sizes += (sizes.empty() ? "" : " ") + std::to_string(n);
  std::printf("sizes: %s (one list); dtypes: float32 float64; threads: 1 2 3\n", sizes.c_str());
#if defined(__aarch64__)
  // An aarch64 build that did not compile the NEON unit would pass vacuously.
  if (isas.back() != Isa::kNeon) {
    std::printf("FAIL: an aarch64 build without the neon level\n");
    return 1;
  }
#endif

  // A grain this small splits even the 4097-element tensor across the threads.
  set_grain(64);
  std::vector<Tally> tallies(isas.size());
  int ops = 0;
  check_all_ops(AllOps{}, isas, tallies, ops);
  check_all_ops(TrustOps{}, isas, tallies, ops, 1u << 20);
  const int narrow_ops = check_narrow_layouts(AllOps{}, isas, tallies);
  const int norm_checks = check_norms<float>(isas) + check_norms<double>(isas);

  for (size_t i = 0; i < isas.size(); ++i)
    std::printf("isa %-7s %" PRId64 " runs (op x config x dtype x threads) against scalar\n", isa_name(isas[i]),
                tallies[i].runs);
  std::printf("narrow layouts (bfloat16, float16: modes A, B, C): %d ops\n", narrow_ops);
  std::printf("ops: %d (%s; trust-ratio: %s)\n", ops, op_names(AllOps{}).c_str(), op_names(TrustOps{}).c_str());
  std::printf("%" PRId64 " elements compared, %d norms compared, %d mismatches, %d NaN-bit differences%s\n",
              g_checks, norm_checks, g_failures, g_nan_differences,
              g_strict_nan ? " (strict)" : " (allowed)");
  std::printf(g_failures ? "FAIL\n" : "OK\n");
  return g_failures ? 1 : 0;
}
