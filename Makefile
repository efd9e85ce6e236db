# Sparrow: `make run` starts every service on embedded defaults; `make test` runs every test.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
GEN    := protos/gen
PROTOS := $(wildcard protos/sparrow/v1/*.proto)
PACKAGES := -e protos -e libs/common -e services/chain -e services/generation -e services/export -e services/stems -e services/analysis -e gateway

.PHONY: install gen lint-protos tools web run test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==25.3

# Generated code is built here, never committed.
$(GEN)/.stamp: $(PROTOS) $(BIN)/python
	$(BIN)/pip install --quiet grpcio-tools==1.85.1
	protos/generate.sh $(BIN)/python
	touch $@

gen: $(GEN)/.stamp

NOT_IMPORTED := /tests?/|/transformers/models/(?!auto/|musicgen|encodec/|encoder_decoder/|t5/)[a-z0-9_]+/

$(VENV)/.installed: $(GEN)/.stamp requirements-dev.txt */pyproject.toml libs/*/pyproject.toml services/*/pyproject.toml gateway/pyproject.toml services/stems/requirements-nodeps.txt
	$(BIN)/pip install --quiet --no-compile $(PACKAGES) -r requirements-dev.txt
	# demucs goes in without its declared dependencies (the file says why).
	$(BIN)/pip install --quiet --no-compile --no-deps -r services/stems/requirements-nodeps.txt
	# Compiled here on every core, not file by file by pip: where
	# PYTHONDONTWRITEBYTECODE is set (these machines set it) nothing else ever
	# compiles them, and every process would compile torch at each start. Not
	# the packages' own tests nor transformers' other models, which nothing
	# imports: 25 CPU-s rather than 37. A few packages ship files that are not
	# Python 3 (pip skips them as well).
	# Beside it, librosa's numba kernels are compiled once into their cache (34 s)
	# by the analysis engine's own warm-up, not by every process that first
	# hears a clip at once (a fresh clone's suite took a minute longer).
	($(BIN)/python -m compileall -q -j 0 -x '$(NOT_IMPORTED)' $(VENV)/lib > /dev/null || true) & \
	$(BIN)/python -c "from sparrow_analysis.engine.listening import Listener; Listener().load()" && wait
	touch $@

install: $(VENV)/.installed

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

node_modules/.bin/buf: node_modules/.installed

# The editor's one library, served by the gateway itself (no CDN at run time).
WEB_VENDOR := gateway/src/sparrow_gateway/web/vendor/wavesurfer.esm.js
$(WEB_VENDOR): node_modules/.installed
	mkdir -p $(dir $@)
	cp node_modules/wavesurfer.js/dist/wavesurfer.esm.js $@

web: $(WEB_VENDOR)

lint-protos: node_modules/.bin/buf
	node_modules/.bin/buf lint protos

# What the tests run besides Python, from Debian when missing: docker-compose
# (`config`) and kubectl (its kustomize) for tests/deploy; Chromium for the
# editor's browser tests (Playwright drives Debian's: its own browser download
# can't work here). The machine image ships kubectl 1.32; Debian bookworm's
# kubernetes-client is 1.20, whose kustomize is too old for the manifests, and
# the tests say so. fluidsynth and its General MIDI soundfont render the pieces
# the analysis tests and bench/listening.py measure hearing on.
tools:
	@missing="$$(command -v docker-compose >/dev/null || echo docker-compose) \
	  $$(command -v kubectl >/dev/null || echo kubernetes-client) \
	  $$(command -v chromium >/dev/null || echo chromium) \
	  $$(command -v fluidsynth >/dev/null || echo fluidsynth) \
	  $$(test -f /usr/share/sounds/sf2/FluidR3_GM.sf2 || echo fluid-soundfont-gm)"; \
	if [ -n "$$(echo $$missing)" ]; then \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing; \
	fi

run: install web
	$(BIN)/python scripts/run_local.py

# Test processes side by side: most of a test's time is services starting and
# answering and browsers drawing (waiting on them): on 7 December four finished
# the suite in 307 s where three took 403 to 436 s, on the same two cores.
TEST_WORKERS ?= 4

# Sparrow's own sources are compiled first: where PYTHONDONTWRITEBYTECODE is set
# (these machines set it), every service process compiles them again at each start.
SOURCES := protos/gen libs/common/src services/chain/src services/generation/src services/export/src services/stems/src services/analysis/src gateway/src

# The set-up steps side by side: Debian's packages download while pip installs.
test:
	$(MAKE) --no-print-directory -j4 install lint-protos tools web
	$(BIN)/python -m compileall -q $(SOURCES) > /dev/null
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder --durations=25

# One at a time: a second busy process slows a model run 4x.
bench: install
	$(BIN)/python bench/gateway_get_chain.py
	$(BIN)/python bench/generation.py
	$(BIN)/python bench/workers.py
	$(BIN)/python bench/batching.py
	$(BIN)/python bench/analysis.py
	$(BIN)/python bench/listening.py
	$(BIN)/python bench/stems.py
	command -v ffmpeg >/dev/null || apt-get install -y ffmpeg
	$(BIN)/python bench/export_vs_ffmpeg.py

clean:
	rm -rf $(VENV) $(GEN) node_modules data
