// Process-wide settings every codedge daemon and tool applies first thing in
// main(), before threads exist.
#ifndef CODEDGE_COMMON_PROCESS_H_
#define CODEDGE_COMMON_PROCESS_H_

namespace codedge {

// - glibc malloc: one arena and no mmap/trim for large blocks. Matrices of
//   tens of MB are allocated and freed for every job; by default each one is
//   a fresh mmap whose pages fault in again (measured: a 24 MB request took
//   ~60 ms through gRPC on loopback, ~30 ms with this; BENCHMARKS.md).
// - absl::Mutex deadlock detection off (it takes a global lock on every
//   Mutex acquisition when the library was built without NDEBUG).
void TuneProcess();

}  // namespace codedge

#endif  // CODEDGE_COMMON_PROCESS_H_
