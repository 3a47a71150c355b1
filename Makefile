# genalytics: `make run` to try it, `make test` to check it.
BUILD      ?= build
CHECK_BUILD ?= build-check
JOBS       ?= $(shell nproc)
DATA_DIR   ?= ./genalytics-data
CMAKE_FLAGS ?=
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60

.PHONY: all deps build run test bench fuzz fuzz-build install clean

all: build

deps:
	@scripts/install-deps

$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

# Installs, builds, loads demo data when the store is empty, serves on 127.0.0.1:8001.
run: build
	$(BUILD)/genalytics demo --if-empty --data-dir $(DATA_DIR)
	exec $(BUILD)/genalytics serve --data-dir $(DATA_DIR)

# Every build and every test, each phase timed (scripts/run-tests): the
# Release build with g++ (unit, end-to-end and static tests), then a clang
# build with ASan + UBSan, libFuzzer coverage and -Wthread-safety (the unit
# tests and the fuzz corpus replays); warnings are errors in both.
test:
	BUILD=$(BUILD) CHECK_BUILD=$(CHECK_BUILD) JOBS=$(JOBS) CMAKE_FLAGS="$(CMAKE_FLAGS)" scripts/run-tests

# PREFIX/bin/genalytics and PREFIX/share/genalytics/ (base.json, systemd units).
PREFIX ?= /usr/local
install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

bench: build
	$(BUILD)/bench/ingest_bench
	$(BUILD)/bench/query_bench
	$(BUILD)/bench/pipeline_bench
	$(BUILD)/bench/proxy_bench
	$(BUILD)/bench/error_answer_bench
	$(BUILD)/bench/simulate_bench

# libFuzzer (Debian's clang): builds fuzz/'s targets in $(FUZZ_BUILD), then runs
# each for FUZZ_SECONDS from its seed corpus and prints the executions (fuzz/README.md).
fuzz: fuzz-build
	fuzz/run_fuzzers $(FUZZ_BUILD) $(FUZZ_SECONDS)

fuzz-build:
	@scripts/install-deps fuzz
	cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
		-DGENALYTICS_FUZZ=ON -DGENALYTICS_UNITY=ON -DGENALYTICS_UNIT_TESTS=OFF $(CMAKE_FLAGS)
	cmake --build $(FUZZ_BUILD) --target fuzz_targets -j $(JOBS)

clean:
	rm -rf $(BUILD) $(CHECK_BUILD) $(FUZZ_BUILD)
