# Two commands do everything on a fresh machine: `make demo` and `make test`.
# Both create .venv, install the project and the Debian tools it needs, then run.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# Debian packages the studio needs at run time (ffmpeg, espeak-ng, fonts) and in tests (postgresql).
APT_PACKAGES := ffmpeg espeak-ng fonts-dejavu-core apertium apertium-eng-spa postgresql chromium pocketsphinx-testdata asterisk-core-sounds-en-g722

.PHONY: setup system-deps demo test test-all bench lint clean

setup: system-deps $(STAMP)

system-deps:
	@bash scripts/ensure-system-deps.sh $(APT_PACKAGES)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip>=24,<27"
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: setup
	$(BIN)/likeness demo

test: setup
	$(BIN)/pytest

test-all: setup
	$(BIN)/pytest -m "" 

bench: setup
	$(BIN)/python -m benchmarks

lint: setup
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
