// libpygd: the C ABI (pygd.h) over the same drivers as the pybind11 module. Argument plumbing
// only: each optimizer's two functions (specs.inc, generated from pygd/_specs.py by
// pygd/_capigen.py) hand their declaration as data to run(), the one generic driver here, which
// checks everything the Python functions check, in the same order and with the same words
// (pygd/_steps.py, pygd/_validate.py), then runs cpu::run<Op> as the bindings do. The math is the
// optimizer headers'; the overlap check is the one the bindings use (cpu/overlap.h).
//
// Nothing leaves through the C boundary but a return code: every C++ exception is caught and
// becomes PYGD_ERROR_INTERNAL, with its text in pygd_last_error().
#include "pygd.h"

#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <exception>
#include <limits>
#include <string>
#include <vector>

#include "cpu/dispatch.h"
#include "cpu/overlap.h"
#include "cpu/parallel.h"
#include "cpu/thread_count.h"
#include "cpu/trust.h"
#include "pygd/amp.h"
#include "pygd/optimizers.h"

namespace pygd::capi {
namespace {

std::string& last_error() {
  thread_local std::string message;
  return message;
}

int32_t fail(int32_t code, std::string message) {
  last_error() = std::move(message);
  return code;
}

// Python's repr of a float ('0.001', '1e-08', '1.0', 'nan', '-inf'), which the messages quote.
std::string py_repr(double x) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof buf, x, std::chars_format::scientific);  // shortest
  const std::string sci(buf, res.ptr);
  const size_t e = sci.find('e');
  std::string mantissa = sci.substr(0, e);
  const int exponent = std::stoi(sci.substr(e + 1));
  const bool negative = mantissa[0] == '-';
  if (negative) mantissa.erase(0, 1);
  std::string digits;
  for (char c : mantissa)
    if (c != '.') digits += c;
  std::string out = negative ? "-" : "";
  if (-4 <= exponent && exponent < 16) {
    if (exponent < 0) {
      out += "0." + std::string(size_t(-exponent - 1), '0') + digits;
    } else if (size_t(exponent) + 1 >= digits.size()) {
      out += digits + std::string(size_t(exponent) + 1 - digits.size(), '0') + ".0";
    } else {
      out += digits.substr(0, size_t(exponent) + 1) + "." + digits.substr(size_t(exponent) + 1);
    }
    return out;
  }
  out += digits.substr(0, 1);
  if (digits.size() > 1) out += "." + digits.substr(1);
  char exp[16];
  std::snprintf(exp, sizeof exp, "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
  return out + exp;
}

std::string flag_repr(int32_t x) { return x ? "True" : "False"; }

// The kinds of option check (pygd/_specs.py CHECKS, pygd/_validate.py), on double fields: one
// field, or (kEtas, kStepSizes) a pair, checked together.
enum class Check { kNonNegative, kNotNan, kUnitInterval, kBetas, kEtas, kStepSizes };

struct OptionCheck {
  Check check;
  const char* label;     // as the message names it: "lr", "betas[0]", "etas"
  size_t offset;         // of its double in the struct
  size_t offset2 = 0;    // a pair's second double
};

// A pair as Python's repr of a tuple of two floats writes it: "(0.5, 1.2)".
std::string pair_repr(double a, double b) { return "(" + py_repr(a) + ", " + py_repr(b) + ")"; }

// A kernel hyperparameter (a field of the Op's Config): read from the struct, or fixed (an option
// the functional step does not take: its default, as that step uses).
struct Field {
  const char* name;
  bool in_struct;
  size_t offset;
  bool flag;
  double value;
  static Field from_struct(const char* name, size_t offset, bool flag) { return {name, true, offset, flag, 0.0}; }
  static Field fixed(const char* name, double value) { return {name, false, 0, false, value}; }
};

struct Rule {
  bool (*broken)(const void* hparams);
  void (*message)(const void* hparams, std::string& out);
};

struct StreamInfo {
  const char* name;
  bool (*needed)(const void* hparams);  // null: always needed
  const char* needed_when;              // "amsgrad=True", as the message says it
};

struct Spec;
using Runner = int32_t (*)(const Spec& spec, const unsigned char* hparams, int64_t step, double grad_scale,
                           cpu::Dtype dtype, const cpu::TensorList& list);

struct Spec {
  const char* name;
  const char* kernel;
  bool takes_step;
  size_t hparams_size;
  const void* defaults;
  std::vector<Field> fields;  // in the order of the Op's Config fields (checked by make_spec)
  std::vector<OptionCheck> checks;
  std::vector<Rule> rules;
  std::vector<StreamInfo> streams;
  Runner runner = nullptr;  // the kernel's, or null if no Op has that name (a stale specs.inc)
  unsigned written = 0, optional = 0;
};

template <class Op>
typename Op::Config config_of(const Spec& spec, const unsigned char* h) {
  typename Op::Config config{};
  size_t i = 0;
  Op::Config::fields(config, [&](const char*, auto& out) {
    using F = std::decay_t<decltype(out)>;
    const Field& f = spec.fields[i++];
    double value = f.value;
    if (f.in_struct && f.flag) {
      int32_t v;
      std::memcpy(&v, h + f.offset, sizeof v);
      value = v != 0;
    } else if (f.in_struct) {
      std::memcpy(&value, h + f.offset, sizeof value);
    }
    if constexpr (std::is_same_v<F, bool>) out = value != 0.0;
    else out = F(value);
  });
  return config;
}

template <class Op>
int32_t run_op(const Spec& spec, const unsigned char* h, int64_t step, double grad_scale, cpu::Dtype dtype,
               const cpu::TensorList& list) {
  const typename Op::Config config = config_of<Op>(spec, h);
  if (list.elements() == 0) return PYGD_OK;
  if (grad_scale == 1.0) cpu::run<Op>(config, step, dtype, list);
  else cpu::run<Unscaled<Op>>({config, grad_scale}, step, dtype, list);
  return PYGD_OK;
}

// A trust-ratio Op (LAMB, LARS: pygd/trust_ratio.h) through its two-pass driver, as the bindings
// run it; that driver takes no grad scale (neither do pygd.lamb_ and pygd.lars_).
template <class Op>
int32_t run_trust_op(const Spec& spec, const unsigned char* h, int64_t step, double grad_scale, cpu::Dtype dtype,
                     const cpu::TensorList& list) {
  if (grad_scale != 1.0)
    return fail(PYGD_ERROR_VALUE, std::string("grad_scale must be 1.0 for ") + spec.name +
                                      " (its trust-ratio driver takes unscaled grads)");
  const typename Op::Config config = config_of<Op>(spec, h);
  if (list.elements() == 0) return PYGD_OK;
  cpu::run_trust<Op>(config, step, dtype, list);
  return PYGD_OK;
}

// The spec bound to its kernel: the Op named `kernel` (elementwise, or trust-ratio), whose Config
// must have exactly `fields`, in order (else runner stays null and every call reports it).
Spec make_spec(const char* name, const char* kernel, bool takes_step, size_t hparams_size, const void* defaults,
               std::vector<Field> fields, std::vector<OptionCheck> checks, std::vector<Rule> rules,
               std::vector<StreamInfo> streams) {
  Spec spec{name, kernel, takes_step, hparams_size, defaults, std::move(fields), std::move(checks),
            std::move(rules), std::move(streams)};
  auto bind = [&](auto op, auto runner) {
    using Op = decltype(op);
    if (std::strcmp(Op::kName, kernel) != 0) return;
    typename Op::Config probe{};
    std::vector<std::string> names;
    Op::Config::fields(probe, [&](const char* field, auto&) { names.emplace_back(field); });
    bool same = names.size() == spec.fields.size() && int(spec.streams.size()) == Op::kStreams;
    for (size_t i = 0; same && i < names.size(); ++i) same = names[i] == spec.fields[i].name;
    if (!same) return;
    spec.runner = runner;
    spec.written = Op::kWritten;
    spec.optional = Op::kOptional;
  };
  Optimizers::for_each([&](auto op) { bind(op, &run_op<decltype(op)>); });
  TrustRatioOptimizers::for_each([&](auto op) { bind(op, &run_trust_op<decltype(op)>); });
  return spec;
}

void init_hparams(const Spec& spec, void* hparams, uint32_t size) {
  if (!hparams || size < sizeof(uint32_t)) return;
  const size_t n = size < spec.hparams_size ? size : spec.hparams_size;
  std::memcpy(hparams, spec.defaults, n);
  std::memcpy(hparams, &size, sizeof size);
}

constexpr int kMaxStreams = 8;
constexpr int64_t kMaxStep = int64_t(1) << 62;  // pygd/_validate.py MAX_STEP

std::string label(const Spec& spec, int stream, int64_t index) {
  return std::string(spec.streams[size_t(stream)].name) + "[" + std::to_string(index) + "]";
}

int32_t check_and_run(const Spec& spec, int32_t dtype_code, int64_t count, const int64_t* sizes,
                      void* const* const* tables, int64_t step, const void* hparams, double grad_scale) {
  if (!spec.runner)
    return fail(PYGD_ERROR_INTERNAL, std::string("libpygd: its ") + spec.name +
                                         " declaration differs from its kernel's (rebuild libpygd)");
  // The hyperparameters, as the caller's struct says them; fields past its size take defaults.
  if (!hparams) return fail(PYGD_ERROR_VALUE, "hparams is NULL");
  uint32_t size;
  std::memcpy(&size, hparams, sizeof size);
  if (size < sizeof(uint32_t))
    return fail(PYGD_ERROR_VALUE, "hparams.size is " + std::to_string(size) + "; set it with pygd_" + spec.name +
                                      "_hparams_init(&hparams, sizeof hparams)");
  if (size > spec.hparams_size)
    return fail(PYGD_ERROR_VERSION, "hparams.size is " + std::to_string(size) + " but this libpygd (" +
                                        PYGD_VERSION_STRING + ") knows pygd_" + spec.name + "_hparams of " +
                                        std::to_string(spec.hparams_size) +
                                        " bytes: link the libpygd of the pygd.h the caller was compiled with");
  alignas(16) unsigned char h[512];
  if (spec.hparams_size > sizeof h) return fail(PYGD_ERROR_INTERNAL, "libpygd: hparams struct too large");
  std::memcpy(h, spec.defaults, spec.hparams_size);
  std::memcpy(h, hparams, size);

  // In the order of the Python functions (pygd/_steps.py): the step, each option, the rules, the
  // states the options need, then the arrays (pygd/_validate.py check_arrays).
  if (spec.takes_step && !(1 <= step && step < kMaxStep))
    return fail(PYGD_ERROR_VALUE, "step must be >= 1 and < 2**62 (the 1-based step count), got " +
                                      std::to_string(step));
  for (const OptionCheck& c : spec.checks) {
    double x, y = 0.0;
    std::memcpy(&x, h + c.offset, sizeof x);
    if (c.check == Check::kEtas || c.check == Check::kStepSizes) std::memcpy(&y, h + c.offset2, sizeof y);
    switch (c.check) {
      case Check::kNonNegative:
        if (!(x >= 0.0)) return fail(PYGD_ERROR_VALUE, std::string(c.label) + " must be >= 0, got " + py_repr(x));
        break;
      case Check::kNotNan:
        if (std::isnan(x)) return fail(PYGD_ERROR_VALUE, std::string(c.label) + " must not be NaN");
        break;
      case Check::kUnitInterval:
        if (!(0.0 <= x && x <= 1.0))
          return fail(PYGD_ERROR_VALUE, std::string(c.label) + " must be in [0, 1], got " + py_repr(x));
        break;
      case Check::kBetas:
        if (!(0.0 <= x && x < 1.0))
          return fail(PYGD_ERROR_VALUE, std::string(c.label) + " must be in [0, 1), got " + py_repr(x));
        break;
      case Check::kEtas:  // Rprop's (etaminus, etaplus)
        if (!(0.0 < x && x < 1.0 && 1.0 < y))
          return fail(PYGD_ERROR_VALUE, "etas must satisfy 0 < etas[0] < 1 < etas[1], got " + pair_repr(x, y));
        break;
      case Check::kStepSizes:  // Rprop's (step_size_min, step_size_max)
        if (!(0.0 <= x && x <= y))
          return fail(PYGD_ERROR_VALUE, "step sizes must satisfy 0 <= step_size_min <= step_size_max, got " +
                                            pair_repr(x, y));
        break;
    }
  }
  for (const Rule& r : spec.rules) {
    if (r.broken(h)) {
      std::string message;
      r.message(h, message);
      return fail(PYGD_ERROR_VALUE, std::move(message));
    }
  }
  if (!(grad_scale > 0.0 && std::isfinite(grad_scale)))
    return fail(PYGD_ERROR_VALUE, "grad_scale must be finite and > 0 (1: none), got " + py_repr(grad_scale));
  const int nstreams = int(spec.streams.size());
  void* const* streams[kMaxStreams];
  for (int k = 0; k < nstreams; ++k) {
    const StreamInfo& s = spec.streams[size_t(k)];
    const bool needed = !s.needed || s.needed(h);
    streams[k] = needed ? tables[k] : nullptr;
    if (needed && s.needed && !tables[k])
      return fail(PYGD_ERROR_VALUE, std::string(s.name) + " is required when " + s.needed_when);
  }

  // The arrays.
  if (dtype_code != PYGD_FLOAT32 && dtype_code != PYGD_FLOAT64)
    return fail(PYGD_ERROR_TYPE, "dtype must be PYGD_FLOAT32 (0) or PYGD_FLOAT64 (1), got " +
                                     std::to_string(dtype_code) +
                                     "; pygd updates native-endian float32 and float64 arrays");
  const cpu::Dtype dtype = dtype_code == PYGD_FLOAT32 ? cpu::Dtype::kFloat32 : cpu::Dtype::kFloat64;
  const int64_t itemsize = dtype == cpu::Dtype::kFloat32 ? 4 : 8;
  if (count < 0) return fail(PYGD_ERROR_VALUE, "count must be >= 0, got " + std::to_string(count));
  if (count > 0 && !sizes) return fail(PYGD_ERROR_VALUE, "sizes is NULL");
  const unsigned written = grad_scale == 1.0 ? spec.written : spec.written | 1u << 1;  // Unscaled: grads too
  thread_local cpu::TensorList list;
  list.reset(nstreams);
  list.offsets.resize(size_t(count) + 1);
  int64_t total = 0;
  for (int64_t i = 0; i < count; ++i) {
    const int64_t n = sizes[i];
    if (n < 0) return fail(PYGD_ERROR_VALUE, "sizes[" + std::to_string(i) + "] must be >= 0, got " + std::to_string(n));
    if (n > (INT64_MAX / itemsize) - total)
      return fail(PYGD_ERROR_VALUE, "sizes[" + std::to_string(i) + "] is too large: the call's elements overflow");
    total += n;
    list.offsets[size_t(i) + 1] = total;
  }
  for (int k = 0; k < nstreams; ++k) {
    if (count > 0 && !streams[k] && !(spec.optional >> k & 1u))
      return fail(PYGD_ERROR_VALUE, std::string(spec.streams[size_t(k)].name) + " is NULL");
  }
  list.pointers.assign(size_t(count) * size_t(nstreams), nullptr);
  thread_local std::vector<cpu::Span> spans;
  spans.clear();
  for (int k = 0; k < nstreams; ++k) {
    if (!streams[k]) continue;
    const bool writes = written >> k & 1u;
    for (int64_t i = 0; i < count; ++i) {
      void* p = streams[k][i];
      const int64_t n = sizes[i];
      const auto begin = reinterpret_cast<uintptr_t>(p);
      if (!p && n > 0) return fail(PYGD_ERROR_VALUE, label(spec, k, i) + " is NULL");
      if (begin % uintptr_t(itemsize) != 0)
        return fail(PYGD_ERROR_VALUE, label(spec, k, i) + " is not aligned to its dtype's size");
      const uintptr_t bytes = uintptr_t(n) * uintptr_t(itemsize);
      if (begin + bytes < begin)
        return fail(PYGD_ERROR_VALUE, label(spec, k, i) + " runs past the end of the address space");
      list.pointers[size_t(i) * size_t(nstreams) + size_t(k)] = p;
      if (n > 0) spans.push_back({begin, begin + bytes, k, i, writes});
    }
  }
  cpu::Overlap o;
  if (cpu::find_overlap(spans, &o))
    return fail(PYGD_ERROR_VALUE, label(spec, o.stream, o.index) + " and " + label(spec, o.other_stream, o.other_index) +
                                      " share memory; every array this call writes must have memory of its own");
  return spec.runner(spec, h, spec.takes_step ? step : 1, grad_scale, dtype, list);
}

int32_t internal(const char* what) {
  return fail(PYGD_ERROR_INTERNAL, std::string("libpygd: internal error: ") + what);
}

int32_t run(const Spec& spec, int32_t dtype, int64_t count, const int64_t* sizes, void* const* const* tables,
            int64_t step, const void* hparams, double grad_scale) noexcept {
  try {
    last_error().clear();
    return check_and_run(spec, dtype, count, sizes, tables, step, hparams, grad_scale);
  } catch (const std::exception& e) {
    return internal(e.what());
  } catch (...) {
    return internal("unknown exception");
  }
}

std::string isa_list() {
  std::string out;
  for (cpu::Isa isa : cpu::supported_isas()) out += (out.empty() ? "" : ",") + std::string(cpu::isa_name(isa));
  return out;
}

}  // namespace

#include "specs.inc"

}  // namespace pygd::capi

using pygd::capi::fail;

extern "C" {

uint32_t pygd_abi_version(void) { return PYGD_ABI_VERSION; }

const char* pygd_version(void) { return PYGD_VERSION_STRING; }

int32_t pygd_check_abi(uint32_t header_abi_version) {
  pygd::capi::last_error().clear();
  if (header_abi_version == PYGD_ABI_VERSION) return PYGD_OK;
  return fail(PYGD_ERROR_VERSION, "this libpygd (pygd " PYGD_VERSION_STRING ") has ABI version " +
                                      std::to_string(PYGD_ABI_VERSION) + ", the caller's pygd.h has " +
                                      std::to_string(header_abi_version) + ": build against the pygd.h it ships");
}

const char* pygd_last_error(void) { return pygd::capi::last_error().c_str(); }

int32_t pygd_get_num_threads(void) {
  try {
    return pygd::cpu::current_threads().threads;
  } catch (...) {
    return 1;
  }
}

int32_t pygd_set_num_threads(int32_t n) {
  try {
    pygd::capi::last_error().clear();
    pygd::cpu::set_thread_count(n, pygd::cpu::ThreadSource::kSetNumThreads);
    return PYGD_OK;
  } catch (const std::exception& e) {
    return pygd::capi::internal(e.what());
  }
}

const char* pygd_isa(void) { return pygd::cpu::isa_name(pygd::cpu::active_isa()); }

const char* pygd_supported_isas(void) {
  try {
    static const std::string list = pygd::capi::isa_list();
    return list.c_str();
  } catch (...) {
    return "scalar";
  }
}

int32_t pygd_set_isa(const char* name) {
  try {
    pygd::capi::last_error().clear();
    pygd::cpu::Isa isa;
    if (!name) return fail(PYGD_ERROR_VALUE, "name is NULL");
    if (!pygd::cpu::parse_isa(name, &isa) || !pygd::cpu::select_isa(isa))
      return fail(PYGD_ERROR_VALUE, std::string("isa must be one of ") + pygd_supported_isas() + " on this CPU, got '" +
                                        name + "'");
    return PYGD_OK;
  } catch (const std::exception& e) {
    return pygd::capi::internal(e.what());
  }
}

}  // extern "C"
