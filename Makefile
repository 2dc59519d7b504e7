# Facesmith: `make run` opens the editor, `make test` runs the whole suite.
# Both set everything up first (a .venv in this folder), idempotently.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check
STAMP  := $(VENV)/.facesmith-installed
# face-alignment wants opencv-python (with its own Qt); we use the headless build,
# so it goes in without its dependencies (the rest are in pyproject.toml).
FACE_ALIGNMENT := face-alignment==1.5.0

.PHONY: run test setup demo bench lint-imports clean-venv

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Facesmith needs Python 3.11 or newer; found " + sys.version.split()[0])'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q -e '.[dev]'
	$(PIP) install -q --no-deps $(FACE_ALIGNMENT)
	@$(PY) -c 'import cv2, torch, PySide6, dlib, av; print("facesmith: environment ready (torch", torch.__version__ + ", opencv", cv2.__version__ + ")")'
	@touch $@

run: $(STAMP)
	$(PY) -m app $(PROJECT)

demo: $(STAMP)
	$(VENV)/bin/facesmith demo --headless

test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest $(PYTEST_ARGS)

lint-imports: $(STAMP)
	$(VENV)/bin/lint-imports

bench: $(STAMP)
	$(PY) benchmarks/run_all.py $(BENCH)

clean-venv:
	rm -rf $(VENV)
