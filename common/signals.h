// Graceful stop for the daemons: SIGINT/SIGTERM are caught by a handler that
// only writes to a self-pipe (async-signal-safe), whichever thread the kernel
// picks (OpenBLAS starts threads before main, so masking cannot cover all).
#ifndef CODEDGE_COMMON_SIGNALS_H_
#define CODEDGE_COMMON_SIGNALS_H_

namespace codedge {

// Installs the handlers; call once, early in main.
void InstallTerminationHandlers();
// Blocks until SIGINT or SIGTERM arrives; returns the signal number.
int WaitForTermination();
// The signal number of the first SIGINT or SIGTERM so far, 0 if none (a
// poll for long-running commands; WaitForTermination still sees it).
int TerminationRequested();

}  // namespace codedge

#endif  // CODEDGE_COMMON_SIGNALS_H_
