// launch<Adam>: the Adam kernels for every element type (a unit of their own, compiled in parallel).
#include "launch.cuh"

namespace pygd::cuda {
template std::string launch<Adam>(const AdamConfig&, const Call&);
}  // namespace pygd::cuda
