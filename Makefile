# Thin wrapper over CMake presets. The two commands people need:
#   make run    install what is missing, build, create demo data, start everything
#   make test   install what is missing (incl. test tools), build, run every test
# Others: make test-asan, make bench, make build, make clean.
SHELL := /bin/bash
PRESET ?= default
BUILD   = build/$(PRESET)
DATA_DIR ?= data
HTTP_PORT ?= 8080
REPLICAS ?= 2

.PHONY: all build deps deps-test run test test-asan bench clean

all: build

deps:
	deploy/install-deps.sh

deps-test:
	deploy/install-deps.sh --test

build: deps
	cmake --preset $(PRESET)
	cmake --build --preset $(PRESET)

run: deps
	cmake --preset default
	cmake --build --preset default
	build/default/bin/copilot up --data-dir $(DATA_DIR) --http-port $(HTTP_PORT) --replicas $(REPLICAS)

test: deps-test
	cmake --preset default
	cmake --build --preset default
	ctest --preset default

test-asan: deps-test
	cmake --preset asan
	cmake --build --preset asan
	ctest --preset asan

bench: deps-test
	cmake --preset release
	cmake --build --preset release
	tests/bench/run.sh build/release

clean:
	rm -rf build
