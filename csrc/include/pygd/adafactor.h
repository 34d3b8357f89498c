// Adafactor (Shazeer and Stern 2018) as torch.optim.Adafactor computes it (torch 2.13's for-loop,
// _single_tensor_adafactor). The per-element math, written once over any lane type V (see sgd.h
// for what a lane pack supplies); the factored driver (cpu/factored.inl, cpu/factored.cpp) moves
// memory through it in three passes over each tensor of a call:
//
//   1. (a param of dim > 1 only) the sums of g^2 along each row and each column of each matrix
//      (the last two dims; leading dims are a batch), in double, in a fixed order. Between the
//      passes, per row and per column, row_var and col_var lerp toward those means
//      (row_mean, lerp_factor) and each matrix's mean of row_var is floored (factor_mean_floor).
//   2. u = update(...) per element (a param of dim <= 1 first stores its new variance), whose
//      squares the driver sums with the param's (in the norms' fixed blocks and chains);
//      tensor_scale(...) then makes -alpha / denom once per tensor, in double.
//   3. param = apply(...): the decoupled weight decay, then param + scale * u, u recomputed from
//      what pass 2 left (as LAMB's pass 2 recomputes its direction).
//
// torch's order of operations is kept where it fixes the bits of an element: norm, square, divide
// for a factor's mean; (row * col) / mean for the estimate; clamp, then 1 / sqrt, then times g;
// param * (1 - lr * weight_decay), then a fused multiply-add (ATen's vectorized add with alpha).
#pragma once
#include <cmath>

#include "config.h"
#include "hparams.h"
#include "lerp.h"

namespace pygd {

struct Adafactor {
  static constexpr const char* kName = "adafactor";  // its Python name (kernel and spec)
  using Config = AdafactorConfig;
  template <class T>
  using Step = AdafactorStep<T>;

  // The streams of a call, in the functional API's order. row_var and col_var are the small
  // arrays torch keeps for a param of dim > 1 (shape (..., R, 1) and (..., 1, C)); variance, the
  // param's shape, for dim <= 1. Each param has one of the two forms; the other's entries are unread.
  enum Stream { kParam, kGrad, kRowVar, kColVar, kVariance, kStreams };
  static constexpr unsigned kWritten = 1u << kParam | 1u << kRowVar | 1u << kColVar | 1u << kVariance;
  static constexpr unsigned kOptional = 1u << kRowVar | 1u << kColVar | 1u << kVariance;

  template <class V, class T>
  static PYGD_HD PYGD_INLINE V grad(const AdafactorStep<T>& s, V g) {
    return s.maximize ? -g : g;
  }

  // A factor's new mean of g^2 from its sum (in double): torch's norm(g, dim).square_().div_(n),
  // the norm rounded to T first.
  template <class T>
  static PYGD_HD PYGD_INLINE T row_mean(double sum_of_squares, int64_t n) {
    const T norm = T(std::sqrt(sum_of_squares));
    return (norm * norm) / T(double(n));
  }

  // row_var.lerp_(row_mean, t ** beta2_decay), and col_var's likewise.
  template <class V, class T>
  static PYGD_HD PYGD_INLINE V lerp_factor(const AdafactorStep<T>& s, V factor, V mean) {
    return lerp(factor, mean, s.var_weight);
  }

  // row_var.mean(dim=-2).clamp_(min=eps1), from the sum of one matrix's rows (in double).
  template <class T>
  static PYGD_HD PYGD_INLINE T factor_mean_floor(const AdafactorStep<T>& s, double row_var_sum, int64_t rows) {
    const T mean = T(row_var_sum / double(rows));
    return mean < s.eps1 ? s.eps1 : mean;  // a NaN mean stays NaN, as clamp_
  }

  // A param of dim <= 1: variance.lerp_(g * g, t ** beta2_decay).
  template <class V, class T>
  static PYGD_HD PYGD_INLINE V variance(const AdafactorStep<T>& s, V v, V g) {
    return lerp(v, g * g, s.var_weight);
  }

  // A param of dim > 1: (row_var @ col_var) / mean, one element of the outer product.
  template <class V>
  static PYGD_HD PYGD_INLINE V factored_variance(V row, V col, V mean_floor) {
    return (row * col) / mean_floor;
  }

  // u = rsqrt(clamp(var_estimate, min=eps1^2)) * g (ATen's rsqrt is 1 / sqrt).
  template <class V, class T>
  static PYGD_HD PYGD_INLINE V update(const AdafactorStep<T>& s, V var_estimate, V g) {
    return (V(T(1)) / sqrt(max(var_estimate, V(s.eps1_squared)))) * g;
  }

  // -alpha / denom: alpha = max(eps2, ||param|| / sqrt(n)) * rho (the param before weight decay),
  // denom = max(1, ||u|| / (sqrt(n) * d)), in double as torch's Python floats.
  template <class T>
  static double tensor_scale(const AdafactorStep<T>& s, double param_squares, double update_squares, int64_t n) {
    const double root_n = std::pow(double(n), 0.5);
    // Python's max(a, b) is b only where b > a: a NaN norm gives eps2, a NaN ratio 1.
    const double rms = std::sqrt(param_squares) / root_n;
    const double alpha = (rms > s.eps2 ? rms : s.eps2) * s.rho;
    const double ratio = std::sqrt(update_squares) / (root_n * s.d);
    return -alpha / (ratio > 1.0 ? ratio : 1.0);
  }

  // param = param * (1 - lr * weight_decay) + scale * u.
  template <class V, class T>
  static PYGD_HD PYGD_INLINE V apply(const AdafactorStep<T>& s, V p, V u, V scale) {
    if (s.has_weight_decay) p = p * V(s.decay);
    return fmadd(u, scale, p);
  }
};

}  // namespace pygd
