// launch<Rprop>: the Rprop kernels for every element type (a unit of their own, compiled in parallel).
#include "launch.cuh"

namespace pygd::cuda {
template std::string launch<Rprop>(const RpropConfig&, const Call&);
}  // namespace pygd::cuda
