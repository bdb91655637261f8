# One-command set-up on a fresh machine: finds Python 3.10 (PATH or pyenv), makes .venv,
# installs the pinned stack (constraints.txt) and this project into it.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
DEMO_DATA := data/demo
DEMO_RUN := runs/demo

# tf.Transform 1.16 and TFMA 0.47 only work with Keras 2 (tf_keras).
export TF_USE_LEGACY_KERAS := 1
export TF_CPP_MIN_LOG_LEVEL := 2

# First a pyenv-installed 3.10 (pyenv's shim may point elsewhere), then python3.10 on PATH.
PYTHON310 := $(shell for p in $$(ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.10.*/bin/python3.10 2>/dev/null | sort -V -r) $$(command -v python3.10); do \
	"$$p" -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null && { echo "$$p"; break; }; done)

.PHONY: install run test lock image clean

$(BIN)/.installed: pyproject.toml constraints.txt
	@test -n "$(PYTHON310)" || { echo "error: Python 3.10 not found on PATH or under pyenv (TFX 1.16 needs 3.10)"; exit 1; }
	@test -x $(BIN)/python || { echo "Creating $(VENV) with $(PYTHON310)"; "$(PYTHON310)" -m venv $(VENV); }
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $@

install: $(BIN)/.installed

run: install
	$(BIN)/fakenews demo-data $(DEMO_DATA)
	$(BIN)/fakenews run --data $(DEMO_DATA) --output $(DEMO_RUN)

# Two workers, one a core; tests/conftest.py groups the modules that share a session fixture
# (the fixture model, the pipeline run) on one worker, so each is built once.
test: install
	$(BIN)/python -m pytest -n 2 --dist loadgroup

# The Kubeflow pipeline image (kubeflow/Dockerfile). Tagged by commit, never "latest": KFP
# caches task results by spec, image included. Override: make image IMAGE=registry/repo/fakenews:TAG
IMAGE ?= fakenews-tfx:$(shell git describe --always --dirty 2>/dev/null || echo dev)
image:
	DOCKER_BUILDKIT=1 docker build -f kubeflow/Dockerfile -t $(IMAGE) .

lock: install
	{ head -n 2 constraints.txt; $(BIN)/python -m pip freeze --exclude-editable | grep -v '^fakenews-tfx'; } > constraints.txt.new
	mv constraints.txt.new constraints.txt

clean:
	rm -rf $(VENV) runs data/demo
