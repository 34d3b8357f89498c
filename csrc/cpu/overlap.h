// The overlap check of a call's buffers, shared by every entry point that takes raw memory: the
// pybind11 gather (csrc/bindings/gather.cpp), pygd.torch's pointer tables and the C ABI
// (csrc/capi/). Written once here, so that all of them report the same pair.
#pragma once
#include <cstdint>
#include <vector>

namespace pygd::cpu {

// One buffer of a call: [begin, end) in bytes, which stream and list index it came from (-1: a bare
// array), and whether the update writes it.
struct Span {
  uintptr_t begin, end;
  int stream;
  int64_t index;
  bool written;
};

// The pair of a reported overlap, in argument order (stream, then index).
struct Overlap {
  int stream;
  int64_t index;
  int other_stream;
  int64_t other_index;
};

// The first overlap, in address order, that involves a written buffer: true and `*out` set, or
// false. Read-only streams (grads) may share memory with each other. `spans` holds the non-empty
// buffers, stream by stream (it is sorted in place).
bool find_overlap(std::vector<Span>& spans, Overlap* out);

}  // namespace pygd::cpu
