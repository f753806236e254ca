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
# compiles tabinv and the rewritten test modules anew. One thread per numerical library:
# the test workers already use every core, and OpenMP / BLAS pools in each of them
# oversubscribe the cores and spin (measured: 4 min 25 s -> 4 min 07 s, CPU -11%).
TEST_ENV := env -u PYTHONDONTWRITEBYTECODE OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
test: $(STAMP) browser
	$(TEST_ENV) $(BIN)/python -m compileall -q tabinv tests benchmarks
	$(TEST_ENV) $(BIN)/python -m pytest -q -p no:cacheprovider -n auto --dist loadfile tests tabinv

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
