// The norm reductions of one span of a tensor, and the fold of per-block results, for one ISA unit.
// Elements are widened to double and folded into kAccumulators SIMD accumulators (independent
// chains, so the adds overlap), which are then joined lane by lane in a fixed order, then the tail
// one element at a time: for a given span and ISA the result never depends on anything else.
// Included once per ISA translation unit after sweep.inl. (No include guard on purpose.)

template <class Norm, class T>
double reduce_span(const void* data, int64_t n, double p) {
  const T* x = static_cast<const T*>(data);
  using Scalar = Lane<double>;
  Scalar total(0.0);
  int64_t i = 0;
  if constexpr (Norm::kSimd) {
    using D = Vec<double>;
    constexpr int W = D::kLanes;
    constexpr int kAccumulators = 4;
    D acc[kAccumulators];
    for (auto& a : acc) a = D(0.0);
    for (; i + kAccumulators * W <= n; i += kAccumulators * W)
      for (int k = 0; k < kAccumulators; ++k)
        acc[k] = Norm::accumulate(acc[k], D::load_widened(x + i + k * W), p);
    double lanes[kAccumulators * W];
    for (int k = 0; k < kAccumulators; ++k) acc[k].store(lanes + k * W);
    for (double lane : lanes) total = Norm::combine(total, Scalar(lane));
  }
  for (; i < n; ++i) total = Norm::accumulate(total, Scalar::load_widened(x + i), p);
  return total.v;
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
