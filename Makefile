# The two commands a new user needs are `make demo` and `make test`; both set up everything first.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | sha256sum | cut -c1-12)
PYTEST_ARGS ?=
# Most test time is waiting on real processes (API server, emulator, operator), so a few workers
# overlap that waiting even on two cores.
PYTEST_WORKERS ?= 3

.PHONY: all venv binaries lint test demo clean e2e-kind generate image

all: test

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	@rm -f $(VENV)/.installed-* && touch $@

venv: $(STAMP)

# kube-apiserver, kube-controller-manager, etcd and helm, compiled from Go modules into
# ~/.cache/ccloud-operator/ (keyed by version); a no-op when they are cached.
binaries: venv
	$(BIN)/ccloud-sandbox controlplane build

lint: venv
	$(BIN)/ruff check operator tests benchmarks hack
	$(BIN)/ruff format --check operator tests benchmarks hack
	$(BIN)/mypy

# The test command (README, .ci/run): lint, types, then every test against the real API server, in
# parallel (with a Docker engine, also the image as a container and the chart on a local node: the first
# line says whether those run); last, alone, the conformance check of every response the emulator sent
# meanwhile (with a PYTEST_ARGS subset that holds no such check, that second run finds nothing: exit 5 is fine).
test: binaries lint
	@$(BIN)/ccloud-sandbox image status || true
	export CCLOUD_SANDBOX_RESPONSE_LOG_DIR=$$(mktemp -d) && \
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) -m "not run_last" $(PYTEST_ARGS) && \
	{ $(BIN)/python -m pytest -m run_last $(PYTEST_ARGS) || [ $$? -eq 5 ]; }

# The operator's image, built with the local Docker engine from wheels made on the host (no network inside
# the build). The default base is a local Debian made once with debootstrap (needs root, cached under
# ~/.cache/ccloud-operator/base/); BASE_IMAGE=python:3.11.11-slim-bookworm builds on a registry base instead.
IMAGE ?= ccloud-operator:dev
BASE_IMAGE ?=
image: venv
	$(BIN)/ccloud-sandbox image build --tag $(IMAGE) $(if $(BASE_IMAGE),--base $(BASE_IMAGE))

demo: binaries
	$(BIN)/ccloud-sandbox demo $(DEMO_ARGS)

# The operator's image in a kind cluster, installed by the chart (needs Docker and kind; docs/install.md).
e2e-kind: venv
	VENV=$(VENV) hack/e2e-kind.sh

# Regenerate the chart's CRD copy, deploy/install.yaml and the Argo CD snippet (tests fail when they are stale).
generate: venv
	$(BIN)/python hack/sync-chart.py && $(BIN)/python hack/render-install.py && $(BIN)/python hack/sync-argocd.py

clean:
	-$(BIN)/ccloud-sandbox controlplane down
	rm -rf .state $(VENV)
