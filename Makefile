# Thin wrapper around CMake: the two commands of the README's quick start.
#   make run    install missing Debian packages, build, run sonde in the foreground
#   make test   the same set-up, then the whole ctest suite, plain and under ASan+UBSan
#   make deb    the Debian package (build/sonde_VERSION_ARCH.deb), with CPack
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)
ARGS       ?=

.PHONY: all deps deps-test build build-asan run test test-plain test-asan bench clean format deb

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

deb: build
	cd $(BUILD) && cpack -G DEB

bench: build
	@bash cmake/install-deps.sh bench
	bash bench/overhead.sh

format:
	clang-format -i daemon/*.c daemon/*.h include/*.h bpf/*.bpf.c tests/*.c tests/*.h

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
