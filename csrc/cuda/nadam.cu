// launch<Nadam>: the Nadam kernels for every element type (a unit of their own, compiled in parallel).
#include "launch.cuh"

namespace pygd::cuda {
template std::string launch<Nadam>(const NadamConfig&, const Call&);
}  // namespace pygd::cuda
