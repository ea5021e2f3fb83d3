# One entry point per task. Every target builds the project virtual environment first
# (.venv, from the pinned lock requirements.txt), so each works on a fresh clone with only
# Python 3.11 and pip.
#   make run     the default workflow on the built-in simulated data (both analyses)
#   make test    lint + the test suite (what CI runs)
#   make bench   component benchmarks -> results/bench/*.json
#   make bench-dag  wall time of the whole default DAG from scratch -> results/bench/dag.json
#   make bench-test  wall time of make test on a fresh clone of HEAD (this .venv, set-up excluded)
#                -> results/bench/test_suite.json
#   make bench-efp  EFP engine vs energyflow by occupancy -> results/bench/efp_engine.json
#   make bench-tabular  tabular unpack vs pyarrow / pandas CSV readers, 11 M UCI-layout rows
#                -> results/bench/tabular_unpack.json (ROWS=... for another size)
#   make bench-generate  Pythia 8 generation rates (config/generated.yaml) -> results/bench/generate.json
#   make bench-tabular-train  samples/s of the Higgs benchmark's deep network (CPU; GPU when one
#                is visible) -> results/bench/tabular_train.json; REHEARSAL_ROWS=10500000 adds one
#                streamed epoch and a LightGBM fit on that many synthetic rows (peak RSS, time)
#   make bench-paper  paper-scale rehearsal of config/paper.yaml's and config/jets.yaml's rules
#                + training throughput -> results/bench/paper.json, benchmarks/paper_peaks.json,
#                results/bench/training_paper.json (~1 h on 2 cores, plus ~1 h for the jets axis)
#   make bench-doc  keep the JSON of results/bench/ in benchmarks/measured/ (stamped with the
#                commit) and render docs/benchmarks.md from it: no benchmark figure is typed
#   make report  results/report.html after a run
#   make results-doc NAME=default  copy the run's results/results.md (every table, stamped with
#                the commit and config) to docs/results/NAME.md, the documents README links to

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-lock
CORES ?= 8
SNAKEMAKE := $(BIN)/snakemake
SNAKEMAKE_ARGS ?=

.PHONY: venv run report results-doc test lint pytest bench bench-dag bench-test bench-efp bench-generate bench-paper bench-doc bench-tabular bench-tabular-train envs clean

venv: $(STAMP)

$(STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $(STAMP)

run: venv
	$(SNAKEMAKE) --cores $(CORES) $(SNAKEMAKE_ARGS)
	$(SNAKEMAKE) --cores 1 --report results/report.html $(SNAKEMAKE_ARGS)

report: venv
	$(SNAKEMAKE) --cores 1 --report results/report.html $(SNAKEMAKE_ARGS)

NAME ?= default

results-doc:
	@test -f results/results.md || { echo "results/results.md missing: run the workflow first"; exit 1; }
	mkdir -p docs/results
	# links to figures are relative to results/: keep their text and the path beside them
	sed -E 's#\[([^]]*)\]\(([^):]*)\)#\1#g' results/results.md > docs/results/$(NAME).md

test: lint pytest

lint: venv
	$(BIN)/ruff check scripts tests benchmarks
	$(BIN)/ruff format --check scripts tests benchmarks
	$(BIN)/snakefmt --check Snakefile rules
	$(SNAKEMAKE) --lint --cores 1

PYTEST_ARGS ?= -n 3 --dist loadfile

pytest: venv
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: venv
	mkdir -p results/bench
	$(BIN)/python benchmarks/run_all.py

bench-dag: venv
	$(BIN)/python benchmarks/time_dag.py --cores $(CORES)

bench-test: venv
	mkdir -p results/bench
	$(BIN)/python benchmarks/time_tests.py

bench-efp: venv
	mkdir -p results/bench
	$(BIN)/python benchmarks/bench_efp_engine.py

bench-tabular: venv
	mkdir -p results/bench
	$(BIN)/python benchmarks/bench_tabular_unpack.py --rows $(or $(ROWS),11000000)

bench-generate: venv
	$(BIN)/python benchmarks/bench_generate.py

REHEARSAL_ROWS ?= 0

bench-tabular-train: venv
	mkdir -p results/bench
	$(BIN)/python benchmarks/bench_tabular_train.py --threads 2 --rehearsal-rows $(or $(REHEARSAL_ROWS),0)

bench-paper: venv
	$(BIN)/python benchmarks/rehearse_paper.py --cores 2
	$(BIN)/python benchmarks/paper_training.py --threads 2

bench-doc: venv
	$(BIN)/python benchmarks/write_doc.py --keep

envs: venv
	$(BIN)/python scripts/make_envs.py

clean:
	rm -rf results resources logs .snakemake
