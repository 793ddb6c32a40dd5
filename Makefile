# The README's commands. `make demo` and `make test` each set up .venv on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TORCH := torch==2.13.0

.PHONY: demo test lint random-wall heldout-walls results understanding report-demo planning throughput bench clean

ARGS ?=

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# torch is pinned and installed first: a bare `torch` would pull a multi-GB CUDA build.
$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

demo: $(VENV)/.installed
	$(BIN)/monde demo --config configs/two_room.yaml --run runs/demo \
		--out benchmarks/results/two_room.json $(ARGS)

test: $(VENV)/.installed-dev
	$(BIN)/ruff check monde tests benchmarks
	$(BIN)/python -m pytest -q

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check monde tests benchmarks
	$(BIN)/ruff format --check monde tests benchmarks

# Random walls (about 25 minutes on 2 cores); ARGS passes overrides, e.g. ARGS=train.threads=1
random-wall: $(VENV)/.installed
	$(BIN)/monde demo --config configs/two_room_random_wall.yaml --run runs/random_wall \
		--out benchmarks/results/two_room_random_wall.json $(ARGS)

heldout-walls: $(VENV)/.installed
	$(BIN)/monde demo --config configs/two_room_heldout_walls.yaml --run runs/heldout_walls \
		--out benchmarks/results/two_room_heldout_walls.json $(ARGS)

# docs/{results,planning,understanding,data,scaling}.md from benchmarks/results/*.json
results: $(VENV)/.installed
	$(BIN)/python benchmarks/render_results.py
	$(BIN)/python benchmarks/render_planning.py
	$(BIN)/python benchmarks/render_understanding.py
	$(BIN)/python benchmarks/render_report.py
	$(BIN)/python benchmarks/render_data.py
	$(BIN)/python benchmarks/train_throughput.py --render-only

# Probes, rollout error and surprise of the random-wall model of the full TwoRoom bench
# (trains it first, about an hour, unless runs/bench/two_room_full/model exists; then ~3 min)
understanding: $(VENV)/.installed
	test -f runs/bench/two_room_full/model/model.safetensors || \
		$(BIN)/monde bench two_room --budget full
	$(BIN)/python benchmarks/understanding.py
	$(BIN)/python benchmarks/render_understanding.py

# `monde report` on the demo model (needs runs/demo from `make demo`): its time and the decoder's
# held-out PSNR, why the first decoder drew black frames, then docs/report.md
report-demo: $(VENV)/.installed
	$(BIN)/python benchmarks/report_demo.py
	$(BIN)/python benchmarks/decoder_diagnosis.py
	$(BIN)/python benchmarks/render_report.py

# Planning speed and solver comparison of the demo model (needs runs/demo; run on a quiet
# machine: ~10 min for planning.json, ~10 min for solver_comparison.json), then docs/planning.md
planning: $(VENV)/.installed
	$(BIN)/python benchmarks/planning.py
	$(BIN)/python benchmarks/solver_comparison.py
	$(BIN)/python benchmarks/render_planning.py

# Training throughput, fp32/bf16 × eager/compiled × 1/2 processes, and docs/scaling.md (run on
# a quiet machine: about 10 min on 2 cores; ARGS=--device=cuda on a GPU machine)
throughput: $(VENV)/.installed
	$(BIN)/python benchmarks/train_throughput.py $(ARGS)

# The benchmark table (docs/benchmarks.md): every env with its full preset, one after another
# (each preset says its time: about 1–2 hours per env on 2 cores). BUDGET=quick: ≤ 15 min each.
# Reacher also gets its rgb+proprio row: the arm's joint angles are its proprioception.
BUDGET ?= full
bench: $(VENV)/.installed-dev
	$(BIN)/monde bench two_room reacher point_maze push_t --budget $(BUDGET) $(ARGS)
	$(BIN)/monde bench reacher --budget $(BUDGET) --inputs rgb+proprio $(ARGS)

clean:
	rm -rf runs .pytest_cache .ruff_cache
