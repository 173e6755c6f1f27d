# codedge: two commands on a fresh Debian 12 machine.
#   make demo   install what is missing, build, run the demo (prints a table)
#   make test   install what is missing, build, run every test
BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=

FUZZ_BUILD ?= build-fuzz
ARM64_BUILD ?= build-arm64
FUZZ_SECONDS ?= 20

.PHONY: all deps configure build test demo bench fuzz arm64 deb clean

all: build

deps:
	@scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD) -j$(JOBS)

test: build
	@cd $(BUILD) && ctest --output-on-failure -j$(JOBS) --timeout 600
	@$(MAKE) --no-print-directory fuzz
	@if [ "$${CODEDGE_SKIP_ARM64:-0}" = 1 ]; then echo "arm64: skipped (CODEDGE_SKIP_ARM64=1)"; \
	 else $(MAKE) --no-print-directory arm64; fi

# Debian packages: $(BUILD)/codedge_*_amd64.deb, and after `make arm64`
# $(ARM64_BUILD)/codedge_*_arm64.deb for the Raspberry Pis (README).
deb: build
	@cd $(BUILD) && cpack -G DEB >/dev/null && ls codedge_*.deb
	@if [ -f $(ARM64_BUILD)/worker/edge-worker ]; then \
	   cmake --build $(ARM64_BUILD) -j$(JOBS) --target edge-bench > $(ARM64_BUILD)/build.log 2>&1 \
	   && cd $(ARM64_BUILD) && cpack -G DEB >/dev/null && ls codedge_*.deb; fi

# Cross-compiles edge-worker and edge-server for arm64 (Raspberry Pi, 64-bit
# OS) with Debian multiarch packages, then runs the real-process strategy
# test with three arm64 workers under qemu-aarch64-static against the native
# server: every product must equal the local one.
arm64: build
	@scripts/install-deps-arm64.sh
	@cmake -S . -B $(ARM64_BUILD) -DCMAKE_TOOLCHAIN_FILE=scripts/aarch64-toolchain.cmake \
	  -DCMAKE_BUILD_TYPE=Release -DCODEDGE_BUILD_TESTS=OFF >/dev/null
	@cmake --build $(ARM64_BUILD) -j$(JOBS) --target edge-worker edge-server > $(ARM64_BUILD)/build.log 2>&1 \
	  || { tail -40 $(ARM64_BUILD)/build.log; exit 1; }
	@file $(ARM64_BUILD)/worker/edge-worker | grep -q "ARM aarch64" || { echo "arm64: not an aarch64 binary"; exit 1; }
	@echo "arm64: $(ARM64_BUILD)/worker/edge-worker and edge-server built; three arm64 workers under qemu:"
	@CODEDGE_WORKER_BINARY=$(abspath $(ARM64_BUILD))/worker/edge-worker CODEDGE_WORKER_WRAPPER=qemu-aarch64-static \
	  $(BUILD)/tests/process_test "Real processes: every strategy with 3 workers" | tail -n 2

# The libFuzzer harnesses (tests/fuzz) built with clang and the address and
# undefined-behaviour sanitizers, each run for FUZZ_SECONDS from its corpus
# (kept in $(FUZZ_BUILD)/corpus between runs). Fails on any crash or report.
fuzz: deps
	@CC=clang CXX=clang++ cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=Release -DCODEDGE_FUZZ=ON \
	  -DCODEDGE_BUILD_TESTS=OFF -DCODEDGE_USE_BLAS=OFF >/dev/null
	@cmake --build $(FUZZ_BUILD) -j$(JOBS) --target wire_fuzz decoder_fuzz > $(FUZZ_BUILD)/build.log 2>&1 \
	  || { tail -40 $(FUZZ_BUILD)/build.log; exit 1; }
	@for f in wire_fuzz decoder_fuzz; do \
	  mkdir -p $(FUZZ_BUILD)/corpus/$$f; \
	  echo "fuzz: $$f for $(FUZZ_SECONDS) s"; \
	  $(FUZZ_BUILD)/tests/fuzz/$$f -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 -print_final_stats=1 \
	    $(FUZZ_BUILD)/corpus/$$f 2> $(FUZZ_BUILD)/$$f.log \
	    || { tail -40 $(FUZZ_BUILD)/$$f.log; exit 1; }; \
	  grep -E "stat::number_of_executed_units|stat::peak_rss_mb" $(FUZZ_BUILD)/$$f.log | tr '\n' ' '; echo; \
	done

# A local cluster of one edge-server and 10 straggling edge-workers (real
# processes), every strategy side by side on the paper's Scheme A and B
# latencies, and the initial-delay model against the ideal bound, then a
# short coded CNN training; prints the tables and writes figures to
# $(BUILD)/demo/.
demo: build
	@mkdir -p $(BUILD)/demo
	@$(BUILD)/bench/edge-bench matmul --quick --time_unit 10ms --plots $(BUILD)/demo --csv $(BUILD)/demo/matmul.csv
	@$(BUILD)/bench/edge-bench matmul --model initial-delay --repeats 1 --plots $(BUILD)/demo/initial-delay
	@echo "A short CNN training (vgg-mini, Fashion-MNIST, 20 batches of 50) on 10 straggling workers, MDS-coded:"
	@BUILD=$(BUILD) scripts/demo-train.sh 10 20 mds

# The full benchmarks recorded in BENCHMARKS.md.
bench: build
	@$(BUILD)/bench/edge-bench codes --json $(BUILD)/codes.json
	@$(BUILD)/bench/edge-bench overhead --json $(BUILD)/overhead.json
	@$(BUILD)/bench/edge-bench matmul --json $(BUILD)/matmul.json --csv $(BUILD)/matmul.csv --plots $(BUILD)/plots
	@$(BUILD)/bench/edge-bench matmul --model initial-delay --repeats 5 --json $(BUILD)/initial-delay.json

clean:
	@rm -rf $(BUILD) $(FUZZ_BUILD) $(ARM64_BUILD)
