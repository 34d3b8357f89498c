// The CUDA lane pack: one thread's value of one stream, the V of the optimizers' update<V>() (see
// csrc/include/pygd/sgd.h). Width 1: a thread updates its elements one at a time, after loading
// them in 16-byte packs (kernel.cuh).
//
// Rounding matches the CPU lane (csrc/cpu/lane.inl): every operation is the IEEE round-to-nearest
// intrinsic, which the compiler never contracts, so only the multiply-adds the math headers spell
// as fmadd are fused (the CPU is built with -ffp-contract=off; nvcc builds with --fmad=false for
// the rest of the code, such as make_step on the device).
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>

namespace pygd::cuda {

namespace rn {  // round-to-nearest arithmetic, by element type
__device__ __forceinline__ float add(float a, float b) { return __fadd_rn(a, b); }
__device__ __forceinline__ double add(double a, double b) { return __dadd_rn(a, b); }
__device__ __forceinline__ float sub(float a, float b) { return __fsub_rn(a, b); }
__device__ __forceinline__ double sub(double a, double b) { return __dsub_rn(a, b); }
__device__ __forceinline__ float mul(float a, float b) { return __fmul_rn(a, b); }
__device__ __forceinline__ double mul(double a, double b) { return __dmul_rn(a, b); }
__device__ __forceinline__ float div(float a, float b) { return __fdiv_rn(a, b); }
__device__ __forceinline__ double div(double a, double b) { return __ddiv_rn(a, b); }
__device__ __forceinline__ float fma(float a, float b, float c) { return __fmaf_rn(a, b, c); }
__device__ __forceinline__ double fma(double a, double b, double c) { return __fma_rn(a, b, c); }
__device__ __forceinline__ float sqrt(float a) { return __fsqrt_rn(a); }
__device__ __forceinline__ double sqrt(double a) { return __dsqrt_rn(a); }
__device__ __forceinline__ float abs(float a) { return fabsf(a); }  // exact: clears the sign bit
__device__ __forceinline__ double abs(double a) { return fabs(a); }
}  // namespace rn

template <class T>
struct Lane {
  T v;

  Lane() = default;
  __device__ __forceinline__ Lane(T x) : v(x) {}

  friend __device__ __forceinline__ Lane operator+(Lane a, Lane b) { return rn::add(a.v, b.v); }
  friend __device__ __forceinline__ Lane operator-(Lane a, Lane b) { return rn::sub(a.v, b.v); }
  friend __device__ __forceinline__ Lane operator*(Lane a, Lane b) { return rn::mul(a.v, b.v); }
  friend __device__ __forceinline__ Lane operator/(Lane a, Lane b) { return rn::div(a.v, b.v); }
  friend __device__ __forceinline__ Lane operator-(Lane a) { return -a.v; }
  friend __device__ __forceinline__ Lane fmadd(Lane a, Lane b, Lane c) { return rn::fma(a.v, b.v, c.v); }
  friend __device__ __forceinline__ Lane sqrt(Lane a) { return rn::sqrt(a.v); }
  friend __device__ __forceinline__ Lane abs(Lane a) { return rn::abs(a.v); }
  // NaN-propagating, as torch.maximum and the CPU lane: a NaN in either argument wins.
  friend __device__ __forceinline__ Lane max(Lane a, Lane b) { return (a.v != a.v || a.v > b.v) ? a : b; }
  // Ordered comparisons (false where either side is NaN) and the select they feed, as the CPU lane's.
  using Mask = bool;
  friend __device__ __forceinline__ Mask operator>(Lane a, Lane b) { return a.v > b.v; }
  friend __device__ __forceinline__ Mask operator<(Lane a, Lane b) { return a.v < b.v; }
  friend __device__ __forceinline__ Mask operator==(Lane a, Lane b) { return a.v == b.v; }
  friend __device__ __forceinline__ Lane select(Mask m, Lane a, Lane b) { return m ? a : b; }
};

// How an element type is held in memory and in arithmetic: float16 and bfloat16 are widened to
// float32 for the update and rounded back (to nearest) when stored, as torch's fused optimizers do.
template <class S>
struct Element {
  using Math = S;
  static __device__ __forceinline__ Math widen(S x) { return x; }
  static __device__ __forceinline__ S narrow(Math x) { return x; }
};

template <>
struct Element<__half> {
  using Math = float;
  static __device__ __forceinline__ float widen(__half x) { return __half2float(x); }
  static __device__ __forceinline__ __half narrow(float x) { return __float2half_rn(x); }
};

template <>
struct Element<__nv_bfloat16> {
  using Math = float;
  static __device__ __forceinline__ float widen(__nv_bfloat16 x) { return __bfloat162float(x); }
  static __device__ __forceinline__ __nv_bfloat16 narrow(float x) { return __float2bfloat16_rn(x); }
};

}  // namespace pygd::cuda
