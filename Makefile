# ferry: the two commands are `make demo` and `make test`; both install what is missing first.
JOBS ?= $(shell nproc)
BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
CMAKE_FLAGS ?=
SHARED ?= ../shared

.PHONY: all deps build test unit-test asan-test fuzz fuzz-smoke demo bench microbench soak package clean format tidy

all: build

deps:
	@bash scripts/deps.sh

$(BUILD)/build.ninja: CMakeLists.txt
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

# Every test: unit, conformance, interop (nats.c, nats.js, nats.go), differential, scale and
# crash tests in the optimised build; the unit and conformance tests again under ASan+UBSan;
# and a short bounded fuzz run of the protocol parser.
test: build
	@bash scripts/test.sh

demo: build
	@bash scripts/demo.sh

# The crash test at length: 100 SIGKILL rounds of ferryd under load (make test runs 5).
SOAK_ROUNDS ?= 100
soak: build
	FERRY_CRASH_ROUNDS=$(SOAK_ROUNDS) $(BUILD)/tests/crash_test --gtest_filter=Crash.AcknowledgedDataSurvivesSigkill

# Side by side with Debian's nats-server (or, with AGAINST=path/to/ferryd, another build of
# ferryd: a commit against HEAD), then the outbox against a direct publish (SQLite, PostgreSQL), then
# our micro benchmarks. BENCH_ARGS: e.g. --quick, --only js.
AGAINST ?= nats-server
BENCH_ARGS ?=
bench: build
	@bash bench/compare.sh --build $(BUILD) --against $(AGAINST) $(BENCH_ARGS)
	@echo "== $(BUILD)/bench/outbox_throughput" && $(BUILD)/bench/outbox_throughput
	@$(MAKE) --no-print-directory microbench

# Debian packages (ferryd with its systemd unit, ferry, libferry-dev) in $(BUILD)/packages.
package: build
	@cd $(BUILD) && cpack -G DEB --config CPackConfig.cmake
	@ls -l $(BUILD)/packages/*.deb

microbench: build
	@for b in $(BUILD)/bench/*_bench; do echo "== $$b"; $$b --benchmark_min_time=0.2; done

fuzz: deps
	@bash scripts/fuzz.sh 300

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)

format:
	@git ls-files '*.cc' '*.h' | xargs clang-format -i
