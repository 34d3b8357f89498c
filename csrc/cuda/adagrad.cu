// launch<Adagrad>: the Adagrad kernels for every element type (a unit of their own, compiled in parallel).
#include "launch.cuh"

namespace pygd::cuda {
template std::string launch<Adagrad>(const AdagradConfig&, const Call&);
}  // namespace pygd::cuda
