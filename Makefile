# genalytics: `make run` to try it, `make test` to check it.
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)
DATA_DIR   ?= ./genalytics-data
CMAKE_FLAGS ?=

.PHONY: all deps build run test test-unit test-asan bench clean

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

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
