# codedge: two commands on a fresh Debian 12 machine.
#   make demo   install what is missing, build, run the demo (prints a table)
#   make test   install what is missing, build, run every test
BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=

.PHONY: all deps configure build test demo bench clean

all: build

deps:
	@scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD) -j$(JOBS)

test: build
	@cd $(BUILD) && ctest --output-on-failure -j$(JOBS) --timeout 600

# Until the cluster exists (issue 3), the demo is the codes benchmark.
demo: build
	@$(BUILD)/bench/edge-bench codes --runs 200 --json $(BUILD)/codes.json

# The full benchmark recorded in BENCHMARKS.md.
bench: build
	@$(BUILD)/bench/edge-bench codes --json $(BUILD)/codes.json

clean:
	@rm -rf $(BUILD)
