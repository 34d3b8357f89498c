#include "thread_count.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#if defined(_OPENMP)
#include <omp.h>
#endif
#if defined(__linux__)
#include <sched.h>
#endif

#include "thread_pool.h"

namespace pygd::cpu {
namespace {

// The count set through pygd and its source, in one word so that a reader never pairs the count
// of one setting with the source of another: threads in the low 16 bits, source above.
std::atomic<uint32_t> g_set{0};

int affinity_cpus() {
#if defined(__linux__)
  for (int cpus = CPU_SETSIZE; cpus <= (1 << 16); cpus *= 4) {
    cpu_set_t* set = CPU_ALLOC(cpus);
    if (!set) break;
    const size_t bytes = CPU_ALLOC_SIZE(cpus);
    const bool ok = sched_getaffinity(0, bytes, set) == 0;
    const int count = ok ? CPU_COUNT_S(bytes, set) : 0;
    CPU_FREE(set);
    if (ok) return std::max(count, 1);
    if (errno != EINVAL) break;  // EINVAL: the kernel's mask is wider than this set
  }
#endif
  return std::max(1u, std::thread::hardware_concurrency());
}

std::string read_line(const std::string& path) {
  std::ifstream f(path);
  std::string line;
  std::getline(f, line);
  return line;
}

// ceil(quota / period) where the files give one, else 0 (no quota).
int quota_cpus(double quota, double period) {
  if (!(quota > 0) || !(period > 0)) return 0;
  return std::max(1, int(std::ceil(quota / period)));
}

}  // namespace

int cgroup_quota_cpus(const std::string& proc_self_cgroup, const std::string& cgroup_root) {
  std::ifstream self(proc_self_cgroup);
  std::string line;
  int tightest = 0;
  auto tighten = [&](int cpus) {
    if (cpus > 0) tightest = tightest ? std::min(tightest, cpus) : cpus;
  };
  while (std::getline(self, line)) {
    // "hierarchy-id:controllers:path"; cgroup v2 has no controllers, v1 lists them ("cpu,cpuacct")
    const size_t a = line.find(':'), b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    const std::string controllers = line.substr(a + 1, b - a - 1);
    const std::string path = line.substr(b + 1);
    const bool v2 = controllers.empty();
    bool v1_cpu = false;
    std::stringstream names(controllers);
    for (std::string name; std::getline(names, name, ',');) v1_cpu |= name == "cpu";
    if (!v2 && !v1_cpu) continue;
    const std::vector<std::string> mounts =
        v2 ? std::vector<std::string>{cgroup_root}
           : std::vector<std::string>{cgroup_root + "/cpu", cgroup_root + "/cpu,cpuacct",
                                      cgroup_root + "/" + controllers};
    for (const std::string& mount : mounts) {
      // From the process's own cgroup up to the root: a parent's quota binds its children too.
      // (Inside a container the path may name the host's hierarchy, absent here: the walk then
      // reaches the container's own root.)
      for (std::string p = path;;) {
        const std::string dir = mount + (p == "/" ? "" : p);
        if (v2) {
          std::istringstream max(read_line(dir + "/cpu.max"));  // "max 100000" or "200000 100000"
          std::string quota;
          double period = 0;
          if (max >> quota >> period && quota != "max")
            tighten(quota_cpus(std::atof(quota.c_str()), period));
        } else {
          const std::string quota = read_line(dir + "/cpu.cfs_quota_us");
          const std::string period = read_line(dir + "/cpu.cfs_period_us");
          if (!quota.empty() && !period.empty())
            tighten(quota_cpus(std::atof(quota.c_str()), std::atof(period.c_str())));
        }
        if (p.empty() || p == "/") break;
        p = p.substr(0, p.find_last_of('/'));
      }
    }
  }
  return tightest;
}

namespace {

int quota_once() {
#if defined(__linux__)
  static const int cpus = cgroup_quota_cpus("/proc/self/cgroup", "/sys/fs/cgroup");
#else
  static const int cpus = 0;
#endif
  return cpus;
}

// The first number of OMP_NUM_THREADS ("4" or "4,2" for nested levels); 0 when unset or invalid.
int omp_num_threads_env() {
  const char* text = std::getenv("OMP_NUM_THREADS");
  if (!text) return 0;
  char* end = nullptr;
  const long n = std::strtol(text, &end, 10);
  if (end == text || n < 1 || (*end != '\0' && *end != ',')) return 0;
  return int(std::min<long>(n, kMaxThreads));
}

// What OpenMP's limit is before anyone changes it: OMP_NUM_THREADS, else (GNU, LLVM and Intel
// OpenMP alike) the CPUs of the process's affinity when the runtime started.
struct OpenMPDefault {
  int env = omp_num_threads_env();
  int initial = env ? env : affinity_cpus();
};
// Read at load, when the runtime has just started: a later change of affinity does not change it.
const OpenMPDefault g_openmp_default;

}  // namespace

const char* source_name(ThreadSource source) {
  switch (source) {
    case ThreadSource::kSetNumThreads: return "set_num_threads";
    case ThreadSource::kThreadpoolctl: return "threadpoolctl";
    case ThreadSource::kOpenMP: return "openmp";
    case ThreadSource::kOmpNumThreads: return "OMP_NUM_THREADS";
    case ThreadSource::kCgroupQuota: return "cgroup_quota";
    case ThreadSource::kAffinity: return "affinity";
  }
  return "?";
}

bool parse_settable_source(const char* name, ThreadSource* out) {
  for (ThreadSource s : {ThreadSource::kSetNumThreads, ThreadSource::kThreadpoolctl}) {
    if (std::strcmp(name, source_name(s)) == 0) {
      *out = s;
      return true;
    }
  }
  return false;
}

void set_thread_count(int n, ThreadSource source) {
  const uint32_t threads = n <= 0 ? 0u : uint32_t(std::min(n, kMaxThreads));
  g_set.store(threads ? threads | (uint32_t(source) << 16) : 0u, std::memory_order_relaxed);
}

ThreadCount set_count() {
  const uint32_t word = g_set.load(std::memory_order_relaxed);
  return {int(word & 0xffff), ThreadSource(word >> 16)};
}

bool follows_openmp() {
#if defined(_OPENMP)
  return true;
#else
  return false;
#endif
}

ThreadCount usable_cores() {
  const int affinity = affinity_cpus();
  const int quota = quota_once();
  if (quota > 0 && quota < affinity) return {quota, ThreadSource::kCgroupQuota};
  return {affinity, ThreadSource::kAffinity};
}

ThreadCount current_threads() {
  const ThreadCount set = set_count();
  if (set.threads > 0) return set;
  const OpenMPDefault& omp_default = g_openmp_default;
#if defined(_OPENMP)
  const int omp = std::clamp(omp_get_max_threads(), 1, kMaxThreads);
  if (omp != omp_default.initial) return {omp, ThreadSource::kOpenMP};
#endif
  if (omp_default.env) return {omp_default.env, ThreadSource::kOmpNumThreads};
  return usable_cores();
}

}  // namespace pygd::cpu
