# Everything runs in a local virtual environment that `make` creates on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: venv generate check-generated lint typecheck test demo bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' || (echo "cloudburst needs Python 3.10+ as $(PYTHON) (set PYTHON=...)"; exit 1)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	PYRIGHT_PYTHON_IGNORE_WARNINGS=1 $(BIN)/pyright --version  # runs from its wheel: nothing to fetch
	@touch $(STAMP)

venv: $(STAMP)

generate: $(STAMP)  ## regenerate generated/ from specs/
	$(BIN)/python -m codegen

check-generated: $(STAMP)  ## fail if generated/ is not what specs/ give
	$(BIN)/python -m codegen --check

lint: $(STAMP)
	$(BIN)/ruff check runtime codegen tests bench cloudburst_command.py
	$(BIN)/ruff format --check runtime codegen tests bench cloudburst_command.py

typecheck: $(STAMP)  ## mypy --strict over runtime/ and generated/, laid out as the package `cloudburst`
	rm -rf build/typecheck && mkdir -p build/typecheck/cloudburst
	cp -rs "$(CURDIR)/runtime/." build/typecheck/cloudburst/
	cp -rs "$(CURDIR)/generated" build/typecheck/cloudburst/generated
	$(BIN)/mypy

test: check-generated lint typecheck  ## drift check, linters, type checker, then pytest
	$(BIN)/pytest

demo: $(STAMP)  ## the main job: 3,000 prompts on five providers' models against the local simulator, 480 RPM each
	$(BIN)/python -m codegen --check
	$(BIN)/cloudburst models --provider openai --supports logprobs
	$(BIN)/cloudburst render gpt-4.1-mini "Name three prime numbers." --system "Answer in one line." --max-new-tokens 64
	$(BIN)/cloudburst estimate gpt-4.1-mini examples/prompts.jsonl --max-new-tokens 64
	@mkdir -p build
	$(BIN)/cloudburst run examples/demo_prompts.jsonl -o build/demo_results.jsonl \
		--model gpt-4.1-mini --model claude-haiku-4-5 --model gemini-2.5-flash-lite \
		--model mistral-medium-latest --model bedrock-claude-haiku-4-5 --rpm 480 --max-new-tokens 64 \
		--simulate --sim-latency-ms 300 --overwrite

bench: $(STAMP)
	$(BIN)/python bench/codegen.py
	$(BIN)/python bench/spec_fuzz.py
	$(BIN)/python bench/engine.py
	$(BIN)/python bench/journal.py
	$(BIN)/python bench/cache.py
	$(BIN)/python bench/files.py
	$(BIN)/python bench/simulator.py
	$(BIN)/python bench/throttle.py
	$(BIN)/python bench/shared_limit.py
	$(BIN)/python bench/stream_folds.py
	$(BIN)/python bench/batch.py
	$(BIN)/python bench/embed.py
	$(BIN)/python bench/fuzz.py

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
