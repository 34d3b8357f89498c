// launch<Lion>: the Lion kernels for every element type (a unit of their own, compiled in parallel).
#include "launch.cuh"

namespace pygd::cuda {
template std::string launch<Lion>(const LionConfig&, const Call&);
}  // namespace pygd::cuda
