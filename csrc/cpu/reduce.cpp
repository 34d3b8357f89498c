#include "reduce.h"

#include <algorithm>
#include <vector>

#include "thread_pool.h"

namespace pygd::cpu {
namespace {

constexpr int64_t kBlock = kNormBlock;

}  // namespace

double parallel_norm(NormKind kind, double p, Dtype dtype, const TensorList& list) {
  const ReduceTable& table = active_tables().reductions;
  const ReduceSpanFn span = table.span[int(kind)][int(dtype)];
  const int64_t element_bytes = dtype == Dtype::kFloat32 ? 4 : 8;

  // first_block[j]: the index of tensor j's first block in the list's sequence of blocks.
  // The calling thread's buffers, reused across calls; named through references so that the pool's
  // workers below write the caller's vectors, not thread_local copies of their own.
  thread_local std::vector<int64_t> first_block_storage;
  thread_local std::vector<double> partials_storage;
  std::vector<int64_t>& first_block = first_block_storage;
  std::vector<double>& partials = partials_storage;
  const int64_t tensors = list.tensors();
  first_block.assign(size_t(tensors) + 1, 0);
  for (int64_t j = 0; j < tensors; ++j) {
    const int64_t size = list.offsets[j + 1] - list.offsets[j];
    first_block[j + 1] = first_block[j] + (size + kBlock - 1) / kBlock;
  }
  const int64_t blocks = first_block.back();
  partials.assign(size_t(blocks), 0.0);

  auto reduce_block = [&](int64_t b) {
    const int64_t j = std::upper_bound(first_block.begin(), first_block.end(), b) - first_block.begin() - 1;
    const int64_t size = list.offsets[j + 1] - list.offsets[j];
    const int64_t begin = (b - first_block[j]) * kBlock;
    const auto* base = static_cast<const char*>(list.pointers[size_t(j) * list.streams]);
    partials[b] = span(base + begin * element_bytes, std::min(kBlock, size - begin), p);
  };

  const int threads = threads_for(list.elements());
  if (threads <= 1) {
    for (int64_t b = 0; b < blocks; ++b) reduce_block(b);
  } else {
    const int64_t per_chunk = (blocks + kMaxChunks - 1) / kMaxChunks;
    auto body = [&](int64_t c) {
      for (int64_t b = c * per_chunk; b < std::min(blocks, (c + 1) * per_chunk); ++b) reduce_block(b);
    };
    for_each_chunk(threads, (blocks + per_chunk - 1) / per_chunk, body);
  }
  return table.combine[int(kind)](partials.data(), blocks);
}

}  // namespace pygd::cpu
