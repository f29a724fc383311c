# FootCDS — one target for each thing a person does.
# The first use of any target creates .venv and installs the project into it.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
STAMP  := $(VENV)/.installed
BUF    := node_modules/.bin/buf
# buf breaking compares the protos with the first published v1: it must stay wire-compatible.
BUF_AGAINST ?= .git\#ref=80e399b,depth=100000,subdir=protos

.PHONY: help install protos run test test-fast demo lint eval eval-locked fit-likelihoods cv-likelihoods cv-calibration fit-correction cv-correction cv-posterior margin-sweep bench bench-quick compose-smoke compose-scale certs clean buf buf-if-possible fuzz

help:
	@echo "make run            start Redis, the five services, a worker and the HTTP gateway (tablet); Ctrl-C stops"
	@echo "make test           the whole test suite (starts and stops its own processes)"
	@echo "make demo           run the example cases against a suite it starts and stops"
	@echo "make eval           real published cases (dev split) + regression vignettes"
	@echo "make eval-locked    the locked third of the real cases, once (recorded)"
	@echo "make eval-locked-round2  round 2 of the real cases (written blind later), once (recorded)"
	@echo "make eval-locked-round3  round 3 of the real cases (written blind after round 2), once (recorded)"
	@echo "make eval-locked-round4  round 4 of the real cases (written blind after round 3), once (recorded)"
	@echo "make eval-locked-round5  round 5 of the real cases (written blind after round 4), once (recorded)"
	@echo "make eval-locked-round6  round 6 of the real cases (written blind after round 5), once (recorded)"
	@echo "make eval-locked-round7  round 7 of the real cases (written blind after round 6), once (recorded)"
	@echo "make eval-locked-round8  round 8 of the real cases (written blind after round 7), once (recorded)"
	@echo "make eval-locked-round9  round 9 of the real cases (written blind after round 8), once (recorded)"
	@echo "make eval-locked-round10 round 10 of the real cases (written blind after round 9), once (recorded)"
	@echo "make eval-locked-round11 round 11 of the real cases (written blind after round 10), once (recorded)"
	@echo "make fit-likelihoods  regenerate the case-fitted likelihood layer from the spent cases (docs/ranking.md s.8)"
	@echo "make cv-likelihoods   its grouped cross-validation (by source, and leave-one-round-out) vs the engine"
	@echo "make cv-calibration   temperature x triage thresholds re-triaged on the held-out probabilities (JSON rows)"
	@echo "make fit-correction   regenerate the case-fitted ranking correction (after fit-likelihoods; docs/ranking.md s.9)"
	@echo "make cv-correction    its nested leave-one-round-out cross-validation vs the engine, per round"
	@echo "make cv-posterior     both layers' search and the triage thresholds on the corrected posterior, nested by round"
	@echo "make margin-sweep     the correction's emergency margin held out per weight (what each buys and costs)"
	@echo "make bench          benchmarks with framework ceilings; make bench-quick (<1 min)"
	@echo "make protos         regenerate gen/footcds/v1 from protos/"
	@echo "make lint           ruff + mypy + buf lint + buf breaking (against the first v1)"
	@echo "make fuzz           the long fuzz campaign (>= 100,000 inputs, < 10 min)"
	@echo "make buf            install the buf CLI (npm @bufbuild/buf) into node_modules/"
	@echo "make compose-smoke  build images, bring the stack up, one Assess, tear down"
	@echo "make compose-scale  2 replicas per domain service + 3 workers: load spread, one stopped mid-roster"
	@echo "make certs          development CA, server and client certificates in .certs/"

$(STAMP): pyproject.toml requirements/constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c requirements/constraints.txt -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

$(BUF): package.json package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "npm is missing: apt-get install nodejs npm"; exit 1; }
	npm install --no-audit --no-fund --silent
	touch $(BUF)

buf: $(BUF)

# make test installs buf when npm is there; without npm the buf tests say they were skipped.
buf-if-possible:
	@if command -v npm >/dev/null 2>&1; then $(MAKE) --no-print-directory $(BUF); \
	else echo "npm is missing: tests/test_buf.py will be skipped (apt-get install nodejs npm)"; fi

protos: $(STAMP)
	$(PY) scripts/gen_protos.py

redis-check:
	@command -v redis-server >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server; \
	  else echo "redis-server is missing: install it with 'sudo apt-get install redis-server'"; exit 1; fi; }

run: $(STAMP) redis-check
	$(PY) -m devtools.suite

test: $(STAMP) redis-check buf-if-possible
	$(PY) -m pytest -q

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not e2e"

demo: $(STAMP) redis-check
	$(PY) scripts/demo.py

eval: $(STAMP)
	$(PY) -m tests.clinical.evaluate

eval-locked: $(STAMP)
	$(PY) -m tests.clinical.evaluate --split locked

# Each later round is one locked set (tests/clinical/realcases.py ROUND_SPLITS): make eval-locked-roundN
# runs round N once and records it. A pattern rule, so it is not listed in .PHONY (make skips implicit
# rules for phony targets); no file of that name ever exists.
eval-locked-round%: $(STAMP)
	$(PY) -m tests.clinical.evaluate --split locked$*

fit-likelihoods: $(STAMP)
	$(PY) -m devtools.fit_likelihoods

cv-likelihoods: $(STAMP)
	$(PY) -m devtools.cv_likelihoods
	$(PY) -m devtools.cv_likelihoods --by-round

cv-calibration: $(STAMP)
	$(PY) -m devtools.cv_calibration --by-round
	$(PY) -m devtools.cv_calibration

fit-correction: $(STAMP)
	$(PY) -m devtools.fit_correction

cv-correction: $(STAMP)
	$(PY) -m devtools.cv_correction

cv-posterior: $(STAMP)
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 $(PY) -m devtools.cv_posterior --layers
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 $(PY) -m devtools.cv_posterior --thresholds

margin-sweep: $(STAMP)
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 $(PY) -m devtools.margin_sweep 0.3 0.5 0.7 0.9 1.1 1.5

bench: $(STAMP) redis-check
	$(PY) -m bench

bench-quick: $(STAMP) redis-check
	$(PY) -m bench --quick

lint: $(STAMP) $(BUF)
	$(BIN)/ruff check services devtools tests bench scripts
	$(BIN)/mypy services devtools scripts/compose_scale_check.py scripts/score_round.py tests bench
	$(BUF) lint
	$(BUF) breaking --against '$(BUF_AGAINST)'

fuzz: $(STAMP) redis-check
	FOOTCDS_FUZZ_CAMPAIGN=1 $(PY) -m pytest -q -p no:cacheprovider tests/test_fuzz.py -o addopts="" -s --timeout=900

compose-smoke:
	bash scripts/compose_smoke.sh

compose-scale: $(STAMP)
	bash scripts/compose_scale.sh

certs: $(STAMP)
	$(PY) -m devtools.certs .certs

clean:
	rm -rf .run .pytest_cache .mypy_cache .ruff_cache
