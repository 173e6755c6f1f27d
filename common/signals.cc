#include "common/signals.h"

#include <csignal>
#include <cerrno>
#include <unistd.h>

namespace codedge {
namespace {

int pipe_fds[2] = {-1, -1};
volatile sig_atomic_t first_signal = 0;

void OnSignal(int sig) {
  if (first_signal == 0) first_signal = sig;
  const unsigned char byte = static_cast<unsigned char>(sig);
  const int saved = errno;
  (void)!write(pipe_fds[1], &byte, 1);
  errno = saved;
}

}  // namespace

void InstallTerminationHandlers() {
  if (pipe_fds[0] >= 0) return;
  if (pipe(pipe_fds) != 0) return;
  struct sigaction sa = {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

int WaitForTermination() {
  unsigned char byte = 0;
  for (;;) {
    const ssize_t n = read(pipe_fds[0], &byte, 1);
    if (n == 1) return byte;
    if (n < 0 && errno == EINTR) continue;
    return SIGTERM;  // the pipe broke: treat as a stop request
  }
}

int TerminationRequested() { return first_signal; }

}  // namespace codedge
