// launch<Adamax>: the Adamax kernels for every element type (a unit of their own, compiled in parallel).
#include "launch.cuh"

namespace pygd::cuda {
template std::string launch<Adamax>(const AdamaxConfig&, const Call&);
}  // namespace pygd::cuda
