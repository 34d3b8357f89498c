// launch<Rmsprop>: the Rmsprop kernels for every element type (a unit of their own, compiled in parallel).
#include "launch.cuh"

namespace pygd::cuda {
template std::string launch<Rmsprop>(const RmspropConfig&, const Call&);
}  // namespace pygd::cuda
