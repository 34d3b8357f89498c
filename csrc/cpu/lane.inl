// Width-1 lane pack: the tail of every sweep runs the same update as the SIMD body, one element at a
// time. Included once per ISA translation unit, inside that unit's namespace, so each instruction
// set gets its own type and no compiled copy is shared between units built with different flags.
// fmadd is always the correctly rounded fused multiply-add (one rounding), at every ISA level, so
// the tail rounds exactly as the SIMD body does and every level gives torch's bits. Where the unit
// is compiled without FMA instructions (the baseline), the builtin becomes a call to libm's fma,
// which glibc itself dispatches to the hardware instruction where the CPU has one.
// (No include guard on purpose.)

// Drains the streaming stores a sweep made (x86's are weakly ordered: without the fence another
// thread could see the range done before its data). Elsewhere streaming stores are plain stores.
PYGD_INLINE void stream_fence() {
#if defined(__x86_64__)
  __builtin_ia32_sfence();
#endif
}

template <class T>
struct Lane {
  static constexpr int kLanes = 1;
  T v;

  Lane() = default;
  PYGD_INLINE Lane(T x) : v(x) {}
  static PYGD_INLINE Lane load(const T* p) { return Lane(*p); }
  // A float or double element as this lane's type (the norms accumulate float grads in double).
  template <class U>
  static PYGD_INLINE Lane load_widened(const U* p) { return Lane(T(*p)); }
  PYGD_INLINE void store(T* p) const { *p = v; }
  PYGD_INLINE void stream(T* p) const { *p = v; }  // the sweep streams only whole vectors
  // Narrow storage (float lanes only): widened exactly, narrowed to nearest even (storage.h).
  static PYGD_INLINE Lane load(const BFloat16* p) { return Lane(T(widen(*p))); }
  static PYGD_INLINE Lane load(const Float16* p) { return Lane(T(widen(*p))); }
  PYGD_INLINE void store(BFloat16* p) const { *p = narrow_bfloat16(float(v)); }
  PYGD_INLINE void store(Float16* p) const { *p = narrow_float16(float(v)); }

  friend PYGD_INLINE Lane operator+(Lane a, Lane b) { return a.v + b.v; }
  friend PYGD_INLINE Lane operator-(Lane a, Lane b) { return a.v - b.v; }
  friend PYGD_INLINE Lane operator*(Lane a, Lane b) { return a.v * b.v; }
  friend PYGD_INLINE Lane operator/(Lane a, Lane b) { return a.v / b.v; }
  friend PYGD_INLINE Lane operator-(Lane a) { return -a.v; }
  friend PYGD_INLINE Lane fmadd(Lane a, Lane b, Lane c) { return fma_builtin(a.v, b.v, c.v); }
  // Builtins, not std::sqrt: an inline library function would be compiled once per ISA unit and
  // merged by the linker. -fno-math-errno lets the builtin become one instruction.
  friend PYGD_INLINE Lane sqrt(Lane a) { return sqrt_builtin(a.v); }
  friend PYGD_INLINE Lane abs(Lane a) { return abs_builtin(a.v); }
  friend PYGD_INLINE Lane pow(Lane a, double p) { return __builtin_pow(double(a.v), p); }
  // NaN-propagating, as torch.maximum: a NaN in either argument wins.
  friend PYGD_INLINE Lane max(Lane a, Lane b) { return (a.v != a.v || a.v > b.v) ? a : b; }
  // Ordered comparisons (false where either side is NaN) and the select they feed: a lane's Mask.
  using Mask = bool;
  friend PYGD_INLINE Mask operator>(Lane a, Lane b) { return a.v > b.v; }
  friend PYGD_INLINE Mask operator<(Lane a, Lane b) { return a.v < b.v; }
  friend PYGD_INLINE Mask operator==(Lane a, Lane b) { return a.v == b.v; }
  friend PYGD_INLINE Lane select(Mask m, Lane a, Lane b) { return m ? a : b; }  // m ? a : b

 private:
  static PYGD_INLINE float sqrt_builtin(float x) { return __builtin_sqrtf(x); }
  static PYGD_INLINE double sqrt_builtin(double x) { return __builtin_sqrt(x); }
  static PYGD_INLINE float abs_builtin(float x) { return __builtin_fabsf(x); }
  static PYGD_INLINE double abs_builtin(double x) { return __builtin_fabs(x); }
  static PYGD_INLINE float fma_builtin(float a, float b, float c) { return __builtin_fmaf(a, b, c); }
  static PYGD_INLINE double fma_builtin(double a, double b, double c) { return __builtin_fma(a, b, c); }
};
