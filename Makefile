# Front door. `make demo` and `make check` are the two commands the README promises.
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
CMAKE_GEN  := -G Ninja

.PHONY: all build demo check unit e2e asan fuzz bench clean deps

all: build

deps:
	@scripts/install-deps.sh build

build: deps
	@cmake -S . -B $(BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@ninja -C $(BUILD)

demo: build
	$(BUILD)/sluice demo

check:
	@scripts/install-deps.sh check
	@cmake -S . -B $(BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@ninja -C $(BUILD)
	@$(MAKE) --no-print-directory unit e2e asan

# Unit tests; a throwaway PostgreSQL (scripts/pg-test-server.sh) lets the Database connector's
# PostgreSQL test run against the real thing.
PG_PORT ?= 55433
define with_pg
	@d=$$(mktemp -d /tmp/sluice-pg-XXXXXX); chmod 755 $$d; \
	scripts/pg-test-server.sh start $$d/data $(PG_PORT) >/dev/null || { echo "cannot start PostgreSQL" >&2; exit 1; }; \
	SLUICE_TEST_PG_PORT=$(PG_PORT) $(1); rc=$$?; \
	scripts/pg-test-server.sh stop $$d/data >/dev/null; rm -rf $$d; exit $$rc
endef

unit:
	$(call with_pg,ctest --test-dir $(BUILD) --output-on-failure)

# API tests, then the conformance replays (public fixtures from ../shared/conformance; each suite
# says it was skipped when they are absent).
e2e:
	SLUICE_BIN=$(abspath $(BUILD)/sluice) node --test tests/e2e/ tests/conformance/ tests/browser/

# Unit tests and fuzz-corpus replays again under AddressSanitizer + UndefinedBehaviorSanitizer,
# then the API tests against the sanitized binary.
asan:
	@cmake -S . -B $(ASAN_BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Debug -DSLUICE_SANITIZE=ON >/dev/null
	@ninja -C $(ASAN_BUILD)
	$(call with_pg,ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --test-dir $(ASAN_BUILD) --output-on-failure)
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  SLUICE_BIN=$(abspath $(ASAN_BUILD)/sluice) node --test tests/e2e/ tests/conformance/ tests/browser/

# libFuzzer targets (clang). Run one with: build-fuzz/fuzz_profile tests/fuzz/corpus/fuzz_profile
fuzz:
	@scripts/install-deps.sh check
	@CC=clang cmake -S . -B $(FUZZ_BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Debug -DSLUICE_FUZZ=ON -DSLUICE_TESTS=ON >/dev/null
	@ninja -C $(FUZZ_BUILD)

bench:
	@scripts/install-deps.sh bench
	@cmake -S . -B build-release $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Release -DSLUICE_TESTS=OFF >/dev/null
	@ninja -C build-release
	bench/msg_action.sh build-release/sluice

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) build-release
