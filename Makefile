# Thin wrapper around CMake: the two commands of the README's quick start.
#   make run    install missing Debian packages, build, run sonde in the foreground
#   make test   the same set-up, then the whole ctest suite, plain and under ASan+UBSan
#   make fuzz   every libFuzzer target for FUZZ_SECONDS each (clang, build-fuzz/)
#   make deb    the Debian package (build/sonde_VERSION_ARCH.deb), with CPack
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
JOBS       ?= $(shell nproc)
ARGS       ?=

.PHONY: all deps deps-test build build-asan run test test-plain test-asan bench clean format deb fuzz

all: build

deps:
	@bash cmake/install-deps.sh build

deps-test:
	@bash cmake/install-deps.sh test

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

build-asan: deps
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSONDE_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)

run: build
	./$(BUILD)/sonde $(ARGS)

test-plain: deps-test build
	cd $(BUILD) && ctest --output-on-failure

test-asan: deps-test build-asan
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure

test: test-plain test-asan

# New inputs go to $(FUZZ_BUILD)/found/NAME, never into the tree: a crash input worth
# keeping is copied into tests/fuzz/corpus/NAME by hand, where replay runs it in every build.
fuzz: deps
	@bash cmake/install-deps.sh fuzz
	@CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSONDE_FUZZ=ON >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS) --target sonde_fuzzers
	@set -e; for t in $(FUZZ_BUILD)/tests/fuzz/fuzz_*; do \
		n=$$(basename $$t); mkdir -p $(FUZZ_BUILD)/found/$${n#fuzz_}; \
		echo "== $$n for $(FUZZ_SECONDS) s"; \
		$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			-artifact_prefix=$(FUZZ_BUILD)/found/ \
			$(FUZZ_BUILD)/found/$${n#fuzz_} tests/fuzz/corpus/$${n#fuzz_}; \
	done

deb: build
	cd $(BUILD) && cpack -G DEB

bench: build
	@bash cmake/install-deps.sh bench
	bash bench/overhead.sh

format:
	clang-format -i daemon/*.c daemon/*.h include/*.h bpf/*.bpf.c tests/*.c tests/*.h tests/fuzz/*.c

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
