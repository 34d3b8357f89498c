#include "overlap.h"

#include <algorithm>

namespace pygd::cpu {
namespace {

// Address order, ties broken by argument order: the same total order as pygd/_validate.py, so both
// report the same pair when several overlap.
bool by_address(const Span& a, const Span& b) {
  if (a.begin != b.begin) return a.begin < b.begin;
  return a.stream != b.stream ? a.stream < b.stream : a.index < b.index;
}
bool by_address_descending(const Span& a, const Span& b) { return by_address(b, a); }

// Orders the spans by address. They arrive stream by stream, and each stream's arrays are usually
// in allocation order (or its reverse, for grads made by a backward pass), so each stream's run is
// sorted only when it has to be, then merged into the rest: linear time in the usual case, where
// one sort of 8000 spans (2000 tensors, Adam) would cost a third of a millisecond.
void sort_by_address(std::vector<Span>& spans) {
  if (spans.size() <= 64) {  // a handful of tensors: a plain sort, which allocates nothing
    std::sort(spans.begin(), spans.end(), by_address);
    return;
  }
  auto run_begin = spans.begin();
  while (run_begin != spans.end()) {
    const int stream = run_begin->stream;
    const auto run_end = std::find_if(run_begin, spans.end(), [&](const Span& s) { return s.stream != stream; });
    if (!std::is_sorted(run_begin, run_end, by_address)) {
      if (std::is_sorted(run_begin, run_end, by_address_descending)) std::reverse(run_begin, run_end);
      else std::sort(run_begin, run_end, by_address);
    }
    if (run_begin != spans.begin() && by_address(*run_begin, *(run_begin - 1)))
      std::inplace_merge(spans.begin(), run_begin, run_end, by_address);
    run_begin = run_end;
  }
}

}  // namespace

bool find_overlap(std::vector<Span>& spans, Overlap* out) {
  sort_by_address(spans);
  const Span* reach_any = nullptr;      // the span reaching furthest so far
  const Span* reach_written = nullptr;  // the written span reaching furthest so far
  for (const Span& s : spans) {
    const Span* hit = s.written ? reach_any : reach_written;
    if (hit && hit->end > s.begin) {
      const bool hit_first = hit->stream < s.stream || (hit->stream == s.stream && hit->index < s.index);
      const Span& a = hit_first ? *hit : s;
      const Span& b = hit_first ? s : *hit;
      *out = {a.stream, a.index, b.stream, b.index};
      return true;
    }
    if (!reach_any || s.end > reach_any->end) reach_any = &s;
    if (s.written && (!reach_written || s.end > reach_written->end)) reach_written = &s;
  }
  return false;
}

}  // namespace pygd::cpu
