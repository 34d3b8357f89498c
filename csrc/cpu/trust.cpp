#include "trust.h"

#include <algorithm>
#include <vector>

#include "reduce.h"
#include "thread_pool.h"

namespace pygd::cpu {
namespace {

struct ApplyContext {
  const TrustPasses* passes;
  const void* step;
  const TensorList* list;
  const double* scales;
};

void apply_range(void* context, int64_t j, int64_t begin, int64_t end) {
  const auto& c = *static_cast<const ApplyContext*>(context);
  c.passes->apply(c.step, &c.list->pointers[size_t(j) * c.list->streams], begin, end, c.scales[j]);
}

}  // namespace

void parallel_trust(const TrustPasses& passes, const void* step, const TensorList& list) {
  // The calling thread's buffers, reused across calls; named through references so that the pool's
  // workers write the caller's vectors, not thread_local copies of their own (as reduce.cpp).
  thread_local std::vector<int64_t> first_block_storage;
  thread_local std::vector<double> sums_storage, scales_storage;
  std::vector<int64_t>& first_block = first_block_storage;
  std::vector<double>& sums = sums_storage;
  std::vector<double>& scales = scales_storage;
  const int64_t tensors = list.tensors();
  first_block.assign(size_t(tensors) + 1, 0);
  for (int64_t j = 0; j < tensors; ++j) {
    const int64_t size = list.offsets[j + 1] - list.offsets[j];
    first_block[j + 1] = first_block[j] + (size + kNormBlock - 1) / kNormBlock;
  }
  const int64_t blocks = first_block.back();
  sums.assign(size_t(blocks) * 2, 0.0);

  // Pass 1: every block of every tensor, in one pool call.
  auto reduce_block = [&](int64_t b) {
    const int64_t j = std::upper_bound(first_block.begin(), first_block.end(), b) - first_block.begin() - 1;
    const int64_t size = list.offsets[j + 1] - list.offsets[j];
    const int64_t begin = (b - first_block[j]) * kNormBlock;
    passes.reduce(step, &list.pointers[size_t(j) * list.streams], begin, std::min(begin + kNormBlock, size),
                  &sums[size_t(b) * 2]);
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

  // Each tensor's sums, its blocks joined in order (as combine_spans joins a norm's), and its scale.
  scales.assign(size_t(tensors), 0.0);
  for (int64_t j = 0; j < tensors; ++j) {
    double param_squares = 0.0, update_squares = 0.0;
    for (int64_t b = first_block[j]; b < first_block[j + 1]; ++b) {
      param_squares = param_squares + sums[size_t(b) * 2];
      update_squares = update_squares + sums[size_t(b) * 2 + 1];
    }
    scales[size_t(j)] = passes.scale(step, param_squares, update_squares);
  }

  // Pass 2: every element, split as the elementwise sweeps are, in one pool call.
  ApplyContext context{&passes, step, &list, scales.data()};
  parallel_ranges(&apply_range, &context, list);
}

}  // namespace pygd::cpu
