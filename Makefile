# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test browser bench bench-quick bench-peers lint install clean reports

# Re-install only when pyproject.toml is newer than the stamp.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/tabinv demo warfarin

# The browser tests drive Debian's chromium (never a downloaded one): installed here when
# we may (root with apt-get); otherwise one line is printed and those tests skip, saying why.
browser:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		(apt-get install -y -qq chromium >/dev/null 2>&1 && echo "installed chromium for the browser tests") \
		|| echo "could not install chromium: the browser tests will be skipped"; \
	else echo "no /usr/bin/chromium and not root: the browser tests will be skipped"; fi

# Bytecode is cached (some environments set PYTHONDONTWRITEBYTECODE): otherwise every
# test worker, and every interpreter the tests start (CLI runs, zygotes, kernels),
# compiles tabinv and the rewritten test modules anew; measured: collection 12 s -> 5.6 s
# of CPU per worker.
test: $(STAMP) browser
	env -u PYTHONDONTWRITEBYTECODE $(BIN)/python -m compileall -q tabinv tests benchmarks
	env -u PYTHONDONTWRITEBYTECODE $(BIN)/python -m pytest -q -p no:cacheprovider -n auto --dist loadfile tests tabinv

bench: $(STAMP)
	$(BIN)/python -m pytest benchmarks --benchmark-only -p no:cacheprovider --ignore=benchmarks/peers --benchmark-json=benchmarks/results/bench.json

bench-quick: $(STAMP)
	TABINV_BENCH_SIZES=10000,100000 $(BIN)/python -m pytest benchmarks --benchmark-only -p no:cacheprovider --ignore=benchmarks/peers

# Both peer suites in benchmarks/peers: ART's speed (test_art.py, results/peers.json) and
# attack accuracy against ART (test_art_accuracy.py, results/peers-accuracy.*; ~5 min).
bench-peers: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[peers]'
	TABINV_BENCH_SIZES=100000 $(BIN)/python -m pytest benchmarks/peers -p no:cacheprovider -q -s

# Regenerate the committed example reports in reports/ (about 6 minutes).
reports: $(STAMP)
	TABINV=$(BIN)/tabinv bash reports/regenerate.sh

clean:
	rm -rf $(VENV) build *.egg-info

lint: $(STAMP)
	$(BIN)/ruff check tabinv tests benchmarks
