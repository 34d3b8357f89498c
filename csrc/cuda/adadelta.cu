// launch<Adadelta>: the Adadelta kernels for every element type (a unit of their own, compiled in parallel).
#include "launch.cuh"

namespace pygd::cuda {
template std::string launch<Adadelta>(const AdadeltaConfig&, const Call&);
}  // namespace pygd::cuda
