# A thin wrapper over CMake. `make run` and `make test` install whatever is missing first.
BUILD      ?= build
ASAN_BUILD ?= build/asan
JOBS       ?= $(shell nproc)
DATA       ?= var
LISTEN     ?= 127.0.0.1:8443
HTTPLIB    := $(abspath $(BUILD))/_deps/httplib
SUDO       := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps build asan run test test-release test-asan bench appliance clean format

all: build

deps:
	@$(SUDO) appliance/build-deps.sh $(BUILD)

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DHTTPLIB_DIR=$(HTTPLIB) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# Tests and the server built with AddressSanitizer and UndefinedBehaviorSanitizer. The web client
# is taken from the release build rather than built twice.
asan: build
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DOUTPOST_SANITIZE=ON \
	  -DHTTPLIB_DIR=$(HTTPLIB) -DOUTPOST_ASSETS_DIST=$(abspath $(BUILD))/assets >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)

# Starts a working appliance under ./var on https://localhost:8443. The first run creates the
# data directory and an administrator 'admin' with a generated password, kept in
# ./var/admin-password for this development setup only.
run: build
	@if [ ! -f $(DATA)/outpost.db ]; then \
	  mkdir -p $(DATA) && chmod 700 $(DATA) && umask 077 && \
	  head -c 18 /dev/urandom | base64 | tr '+/' '-_' > $(DATA)/admin-password && \
	  $(BUILD)/outpost init --data $(DATA) --admin admin --password-file $(DATA)/admin-password \
	    --host localhost --host 127.0.0.1 ; \
	fi
	@echo "Outpost: open https://localhost:$(lastword $(subst :, ,$(LISTEN)))/ and sign in as"
	@echo "  user 'admin', password: $$(cat $(DATA)/admin-password)"
	@echo "  (the site CA to trust in the browser is $(DATA)/tls/ca.pem; Ctrl-C stops the server)"
	@exec $(BUILD)/outpost serve --data $(DATA) --listen $(LISTEN)

test: test-release test-asan

test-release: build
	@cd $(BUILD) && ctest --output-on-failure

test-asan: asan
	@cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure

# Benchmarks print figures; they are never part of `make test` (see tests/bench/README.md).
bench: build
	@cmake --build $(BUILD) -j $(JOBS) --target outpost_chat_bench
	@$(BUILD)/outpost_chat_bench $(BENCH_ARGS)

# The install image and tar (appliance/make-image.sh; docs/operations.md). RELEASE_KEY=FILE signs
# with a release key (FILE.pub beside it); without it a development key under $(BUILD) signs and
# the image is marked DEV-SIGNED.
appliance: build
	@appliance/make-image.sh --binary $(BUILD)/outpost --out $(BUILD)/appliance \
	  $(if $(RELEASE_KEY),--key $(RELEASE_KEY),--dev-key $(BUILD)/dev-release-key/release.key)

clean:
	rm -rf $(BUILD)

format:
	@git diff -U0 --no-color HEAD -- '*.cc' '*.h' | clang-format-diff-14 -p1 -i
