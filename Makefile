# Common commands. `make run` and `make test` each do the whole setup on a fresh Debian 12 machine.
JOBS ?= $(shell nproc)
BUILD ?= build
CMAKE_FLAGS ?=

.PHONY: setup build test run bench asan tsan fuzz clean unit e2e

setup:
	@bash scripts/setup.sh

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)

build: setup $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

# Everything CI runs: release build + all tests, then unit tests under ASan/UBSan and TSan.
test: build
	bash scripts/test.sh

unit: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) -L unit

run: build
	bash scripts/run.sh

bench: build
	bash bench/run.sh

asan: setup
	cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCACHET_SANITIZE=address -DCACHET_UNIT_TESTS_ONLY=ON
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ctest --output-on-failure -j $(JOBS) -L unit -LE slow

tsan: setup
	cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCACHET_SANITIZE=thread -DCACHET_UNIT_TESTS_ONLY=ON
	cmake --build build-tsan -j $(JOBS)
	cd build-tsan && TSAN_OPTIONS="suppressions=$(CURDIR)/tools/sanitizers/tsan.supp $$TSAN_OPTIONS" \
	  ctest --output-on-failure -j $(JOBS) -L tsan -LE slow

fuzz: setup
	CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCACHET_FUZZ=ON -DCACHET_TESTS=OFF
	cmake --build build-fuzz -j $(JOBS)

clean:
	rm -rf build build-asan build-tsan build-fuzz
