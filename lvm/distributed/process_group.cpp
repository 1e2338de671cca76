#include "lvm/distributed/process_group.h"

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <torch/torch.h>

#include "lvm/util/fault.h"

#if LVM_WITH_GLOO
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#endif

namespace lvm::distributed {

bool available() { return LVM_WITH_GLOO != 0; }

#if LVM_WITH_GLOO

namespace {

// The guard behind Gloo's own timeout: an exchange still running twice the timeout (plus a
// second) after it began means Gloo did not honour it (a connection it makes lazily to a peer
// that died can wait for ever); the process then says which exchange hung and ends itself, so
// that its launcher sees a failure instead of a process that never returns.
class Watchdog {
 public:
  Watchdog(std::string who, std::chrono::milliseconds timeout)
      : who_(std::move(who)), limit_(2 * timeout + std::chrono::seconds(1)), thread_([this] { watch(); }) {}
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }
  void arm(const std::string& what) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      what_ = what;
      deadline_ = std::chrono::steady_clock::now() + limit_;
      armed_ = true;
    }
    wake_.notify_all();
  }
  void disarm() {
    std::lock_guard<std::mutex> lock(mutex_);
    armed_ = false;
  }

 private:
  void watch() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stopping_) {
      if (!armed_) {
        wake_.wait(lock);
      } else if (wake_.wait_until(lock, deadline_) == std::cv_status::timeout && armed_ &&
                 std::chrono::steady_clock::now() >= deadline_) {
        std::fprintf(stderr,
                     "lvm: %s: exchange of %s did not return within %.0f s, past the group's timeout; ending "
                     "this process\n",
                     who_.c_str(), what_.c_str(), std::chrono::duration<double>(limit_).count());
        std::fflush(stderr);
        std::_Exit(1);
      }
    }
  }

  const std::string who_;
  const std::chrono::milliseconds limit_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::string what_;
  std::chrono::steady_clock::time_point deadline_;
  bool armed_ = false, stopping_ = false;
  std::thread thread_;  // last: starts once the rest is set
};

}  // namespace

struct ProcessGroup::Backend {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> gloo;
  std::unique_ptr<Watchdog> watchdog;
};

namespace {

bool is_loopback(const std::string& host) { return host == "localhost" || host.rfind("127.", 0) == 0; }

// Gloo's network device: the interface GLOO_SOCKET_IFNAME names (c10d's own convention), the
// loopback one for a job on loopback, else the one this host's name resolves to.
std::shared_ptr<gloo::transport::Device> gloo_device(const World& world) {
  if (const char* interface = std::getenv("GLOO_SOCKET_IFNAME"); interface != nullptr && *interface != '\0')
    return c10d::ProcessGroupGloo::createDeviceForInterface(interface);
  if (is_loopback(world.master_addr)) return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  return c10d::ProcessGroupGloo::createDefaultDevice();
}

std::string cause(const std::exception& e) {
  if (const auto* c10_error = dynamic_cast<const c10::Error*>(&e)) return c10_error->what_without_backtrace();
  return e.what();
}

// Runs one exchange under the watchdog, turning c10d's errors (a peer gone, a timeout) into a
// GroupError that names this process and the exchange.
template <typename Exchange>
void guarded(const World& world, Watchdog& watchdog, const std::string& what, Exchange&& exchange) {
  watchdog.arm(what);
  try {
    util::hang_point("hang_in_exchange");  // for the watchdog's test
    exchange();
    watchdog.disarm();
  } catch (const std::exception& e) {
    watchdog.disarm();
    throw GroupError(
        fmt::format("{}: exchange of {} failed ({}); another process of the group has "
                    "probably died or hung",
                    describe(world), what, cause(e)));
  }
}

}  // namespace

std::shared_ptr<ProcessGroup> ProcessGroup::join(const World& world, std::chrono::milliseconds timeout) {
  auto backend = std::make_unique<Backend>();
  try {
    c10d::TCPStoreOptions options;
    options.port = static_cast<std::uint16_t>(world.master_port);
    // Under torchrun the agent hosts the store; otherwise rank 0 does and waits for the others.
    options.isServer = !world.agent_store && world.rank == 0;
    options.numWorkers = world.agent_store ? c10::nullopt : c10::optional<std::size_t>(world.world_size);
    options.waitWorkers = !world.agent_store;
    options.timeout = timeout;
    auto tcp = c10::make_intrusive<c10d::TCPStore>(world.master_addr, options);
    // A restarted group (torchrun's restarts) must not read its predecessor's keys.
    backend->store = c10::make_intrusive<c10d::PrefixStore>("lvm/" + world.restart, tcp);
    auto gloo_options = c10d::ProcessGroupGloo::Options::create(timeout);
    gloo_options->devices.push_back(gloo_device(world));
    backend->gloo = c10::make_intrusive<c10d::ProcessGroupGloo>(backend->store, world.rank, world.world_size,
                                                                gloo_options);
    backend->watchdog = std::make_unique<Watchdog>(describe(world), timeout);
  } catch (const std::exception& e) {
    throw GroupError(fmt::format("{}: rendezvous at {}:{} failed within {} s ({})", describe(world),
                                 world.master_addr, world.master_port, timeout.count() / 1000.0, cause(e)));
  }
  return std::shared_ptr<ProcessGroup>(new ProcessGroup(world, std::move(backend)));
}

void ProcessGroup::all_reduce_sum(torch::Tensor& values, const std::string& what) {
  guarded(world_, *backend_->watchdog, what, [&] {
    // Gloo reduces host memory: a CUDA tensor goes through a CPU copy.
    std::vector<at::Tensor> tensors{values.is_cpu() ? values : values.cpu()};
    backend_->gloo->allreduce(tensors)->wait();
    if (!values.is_cpu()) values.copy_(tensors[0]);
  });
}

void ProcessGroup::broadcast_from_first(torch::Tensor& values, const std::string& what) {
  guarded(world_, *backend_->watchdog, what, [&] {
    std::vector<at::Tensor> tensors{values.is_cpu() ? values : values.cpu()};
    backend_->gloo->broadcast(tensors)->wait();
    if (!values.is_cpu()) values.copy_(tensors[0]);
  });
}

#else  // no Gloo in this build

struct ProcessGroup::Backend {};

std::shared_ptr<ProcessGroup> ProcessGroup::join(const World& world, std::chrono::milliseconds) {
  throw std::runtime_error(fmt::format(
      "{}: this build of lvm has no data-parallel support (it was configured without the Gloo headers); "
      "install libgloo-dev (scripts/install_deps.sh does) and rebuild",
      describe(world)));
}

void ProcessGroup::all_reduce_sum(torch::Tensor&, const std::string&) {}
void ProcessGroup::broadcast_from_first(torch::Tensor&, const std::string&) {}

#endif

ProcessGroup::ProcessGroup(World world, std::unique_ptr<Backend> backend)
    : world_(std::move(world)), backend_(std::move(backend)) {}

ProcessGroup::~ProcessGroup() = default;

}  // namespace lvm::distributed
