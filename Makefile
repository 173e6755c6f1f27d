# codedge: two commands on a fresh Debian 12 machine.
#   make demo   install what is missing, build, run the demo (prints a table)
#   make test   install what is missing, build, run every test
BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=

FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 20

.PHONY: all deps configure build test demo bench fuzz clean

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
	@rm -rf $(BUILD) $(FUZZ_BUILD)
