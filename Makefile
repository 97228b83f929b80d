# Set-up is part of every target: on a fresh machine `make test` and `make demo` just work.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PEERS := .venv-peers
PEERS_STAMP := $(PEERS)/.installed-stamp
ECONIRL := .venv-econirl
ECONIRL_STAMP := $(ECONIRL)/.installed-stamp
SB3 := .venv-sb3
SB3_STAMP := $(SB3)/.installed-stamp
SBX := .venv-sbx
SBX_STAMP := $(SBX)/.installed-stamp
OUT ?= results/forecast

.PHONY: install test lint demo bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(STAMP)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/pytest -n 2 -q

# The main job: activity forecasting on the built-in street scene (Kitani et al. 2012).
demo: install
	$(BIN)/irlax forecast --out $(OUT)
	@echo "pictures: $(OUT)/scene.png cost.png forecast.png destinations.png (report: $(OUT)/report.txt)"

# Peer libraries live in their own virtualenv; irlax never imports them.
$(PEERS_STAMP): benchmarks/peers/requirements-imitation.txt
	$(PYTHON) -m venv $(PEERS)
	$(PEERS)/bin/pip install --quiet --upgrade pip
	$(PEERS)/bin/pip install --quiet -r benchmarks/peers/requirements-imitation.txt
	touch $(PEERS_STAMP)

$(ECONIRL_STAMP): benchmarks/peers/requirements-econirl.txt
	$(PYTHON) -m venv $(ECONIRL)
	$(ECONIRL)/bin/pip install --quiet --upgrade pip
	$(ECONIRL)/bin/pip install --quiet -r benchmarks/peers/requirements-econirl.txt
	touch $(ECONIRL_STAMP)

$(SB3_STAMP): benchmarks/peers/requirements-sb3.txt
	$(PYTHON) -m venv $(SB3)
	$(SB3)/bin/pip install --quiet --upgrade pip
	$(SB3)/bin/pip install --quiet -r benchmarks/peers/requirements-sb3.txt
	touch $(SB3_STAMP)

$(SBX_STAMP): benchmarks/peers/requirements-sbx.txt
	$(PYTHON) -m venv $(SBX)
	$(SBX)/bin/pip install --quiet --upgrade pip
	$(SBX)/bin/pip install --quiet -r benchmarks/peers/requirements-sbx.txt
	touch $(SBX_STAMP)

bench: install $(PEERS_STAMP) $(ECONIRL_STAMP) $(SB3_STAMP) $(SBX_STAMP)
	$(BIN)/python benchmarks/tabular_planning.py --peer-python $(PEERS)/bin/python
	$(BIN)/python benchmarks/irl_speed.py --peer-python $(PEERS)/bin/python --econirl-python $(ECONIRL)/bin/python
	$(BIN)/python benchmarks/rust_bus.py --econirl-python $(ECONIRL)/bin/python
	$(BIN)/python benchmarks/irl_quality.py
	$(BIN)/python benchmarks/forecast.py
	$(BIN)/python benchmarks/rl.py --peer-python $(SB3)/bin/python --sbx-python $(SBX)/bin/python
	$(BIN)/python benchmarks/adversarial_speed.py --peer-python $(PEERS)/bin/python
	$(BIN)/python benchmarks/imitation_speed.py --peer-python $(PEERS)/bin/python
	$(BIN)/python benchmarks/adversarial.py
	$(BIN)/python benchmarks/adversarial_seeds.py
	$(BIN)/python benchmarks/imitation.py
	$(BIN)/python benchmarks/mail.py
	$(BIN)/python benchmarks/sampled_maxent.py
	$(BIN)/python benchmarks/compile_cache.py
	$(BIN)/python benchmarks/three_times.py
	$(BIN)/python benchmarks/compile_survey.py
	$(BIN)/python benchmarks/scale.py

clean:
	rm -rf $(VENV) $(PEERS) $(ECONIRL) $(SB3) $(SBX) results .pytest_cache .ruff_cache
