# genalytics: `make run` to try it, `make test` to check it.
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)
DATA_DIR   ?= ./genalytics-data
CMAKE_FLAGS ?=
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60

.PHONY: all deps build run test test-unit test-asan bench fuzz fuzz-build clean

all: build

deps:
	@scripts/install-deps

$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

# Installs, builds, loads demo data when the store is empty, serves on 127.0.0.1:8001.
run: build
	$(BUILD)/genalytics demo --if-empty --data-dir $(DATA_DIR)
	exec $(BUILD)/genalytics serve --data-dir $(DATA_DIR)

# Every test: the release build (unit + integration), then the unit tests
# again under AddressSanitizer and UndefinedBehaviorSanitizer.
test: build test-asan
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-asan: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DGENALYTICS_SANITIZE=ON $(CMAKE_FLAGS)
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
		ctest --output-on-failure -L unit -j $(JOBS)

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
		-DGENALYTICS_FUZZ=ON -DGENALYTICS_BUILD_BENCH=OFF $(CMAKE_FLAGS)
	cmake --build $(FUZZ_BUILD) --target fuzz_targets -j $(JOBS)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
