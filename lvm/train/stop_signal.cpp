#include "lvm/train/stop_signal.h"

#include <csignal>

namespace lvm::train {
namespace {

// Written from the signal handler: only a lock-free atomic store is safe there.
volatile std::sig_atomic_t pending_signal = 0;

extern "C" void on_stop_signal(int signal) { pending_signal = signal; }

}  // namespace

void install_stop_handlers() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  // One-shot: the disposition goes back to the default after the first signal, so a second
  // Ctrl-C terminates at once. SA_RESTART: a file read in progress carries on instead of failing.
  action.sa_flags = SA_RESETHAND | SA_RESTART;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

int stop_requested() { return pending_signal; }

void request_stop(int signal) { pending_signal = signal; }

void clear_stop_request() { pending_signal = 0; }

}  // namespace lvm::train
