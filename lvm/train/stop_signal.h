#pragma once
// Clean stops for long runs: SIGINT (Ctrl-C) or SIGTERM (a scheduler) asks training to stop at the
// next step boundary, where it writes checkpoints/last.pt with its position inside the epoch so
// `lvm train --resume` carries on as if nothing happened. A second signal is not caught (the
// handler is one-shot): it kills the process as usual, and atomic writes keep the files whole.

namespace lvm::train {

/// Installs the one-shot SIGINT and SIGTERM handlers. The `lvm` app calls this; a program that
/// embeds the trainer may instead call request_stop() from its own handling.
void install_stop_handlers();

/// The signal number that asked to stop, or 0.
int stop_requested();

/// Asks training to stop at the next step boundary, as if `signal` had arrived.
void request_stop(int signal);

/// Forgets a stop request (and re-arms nothing): for a process that trains more than once.
void clear_stop_request();

}  // namespace lvm::train
