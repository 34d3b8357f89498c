// The norm reductions of one span of a tensor, and the fold of per-block results, for one ISA unit.
// Elements are widened to double and folded into kChains independent partial sums (so the adds
// overlap): element i of the body goes to chain i % kChains. The chains are then joined in order,
// then the tail (the last n % kChains elements) one element at a time. kChains is the same at every
// ISA level, so the order of every operation, and the result, is the same whatever the lane width
// (a Vec of W lanes holds W consecutive chains): the norm depends on the span alone, never on the
// ISA or the thread count. (It used to be 4 accumulators of W lanes, which made 4, 16 or 32 chains
// as W was 1, 4 or 8: one sum, three roundings.) 32 chains are AVX-512's 4 registers of 8 doubles,
// the width that needs the most overlap; the narrower packs just hold them in more registers.
// Included once per ISA translation unit after sweep.inl. (No include guard on purpose.)

constexpr int kChains = 32;

// The kChains partial sums of one span: a lane pack of W doubles holds W consecutive chains, in
// kChains / W packs. Shared by the norms (reduce_span) and the trust-ratio optimizers' first pass
// (trust.inl), whose sums of squares are folded exactly as a norm of the same values would be.
template <class Norm>
struct Chains {
  using D = Vec<double>;
  static constexpr int W = D::kLanes;
  static_assert(kChains % W == 0, "a lane pack must hold whole chains");
  static constexpr int kAccumulators = kChains / W;
  D acc[kAccumulators];

  PYGD_INLINE Chains() {
    for (auto& a : acc) a = D(0.0);
  }
  // The next kChains elements of the span, x[i] into chain i.
  template <class T>
  PYGD_INLINE void add(const T* x, double p) {
    for (int k = 0; k < kAccumulators; ++k) acc[k] = Norm::accumulate(acc[k], D::load_widened(x + k * W), p);
  }
  // The chains joined in order, then the span's last n (< kChains) elements one at a time.
  template <class T>
  PYGD_INLINE double finish(const T* tail, int64_t n, double p) const {
    double chains[kChains];
    for (int k = 0; k < kAccumulators; ++k) acc[k].store(chains + k * W);
    Lane<double> total(0.0);
    for (double chain : chains) total = Norm::combine(total, Lane<double>(chain));
    for (int64_t i = 0; i < n; ++i) total = Norm::accumulate(total, Lane<double>::load_widened(tail + i), p);
    return total.v;
  }
};

template <class Norm, class T>
double reduce_span(const void* data, int64_t n, double p) {
  const T* x = static_cast<const T*>(data);
  if constexpr (Norm::kSimd) {
    Chains<Norm> chains;
    int64_t i = 0;
    for (; i + kChains <= n; i += kChains) chains.add(x + i, p);
    return chains.finish(x + i, n - i, p);
  } else {
    Lane<double> total(0.0);
    for (int64_t i = 0; i < n; ++i) total = Norm::accumulate(total, Lane<double>::load_widened(x + i), p);
    return total.v;
  }
}

template <class Norm>
double combine_spans(const double* partials, int64_t n) {
  Lane<double> total(0.0);
  for (int64_t i = 0; i < n; ++i) total = Norm::combine(total, Lane<double>(partials[i]));
  return total.v;
}

template <class Norm>
void fill_reductions(ReduceTable& table, NormKind kind) {
  table.span[int(kind)][int(Dtype::kFloat32)] = &reduce_span<Norm, float>;
  table.span[int(kind)][int(Dtype::kFloat64)] = &reduce_span<Norm, double>;
  table.combine[int(kind)] = &combine_spans<Norm>;
}

inline ReduceTable make_reduce_table() {
  ReduceTable table{};
  fill_reductions<NormL2>(table, NormKind::kL2);
  fill_reductions<NormL1>(table, NormKind::kL1);
  fill_reductions<NormInf>(table, NormKind::kInf);
  fill_reductions<NormPower>(table, NormKind::kPower);
  return table;
}
