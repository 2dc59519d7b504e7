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
# mediapipe ships the BlazeFace and face-mesh .tflite weights (run in torch by
# engine/faces/tflite_torch.py); it wants opencv-contrib-python and matplotlib, which we
# must not have, and scenedetect wants opencv-python: both go in without dependencies
# (their other requirements are in pyproject.toml).
NO_DEPS_EXTRA := mediapipe==0.10.14 scenedetect==0.7.2

.PHONY: run test setup demo bench bundle lint-imports clean-venv

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Facesmith needs Python 3.11 or newer; found " + sys.version.split()[0])'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q -e '.[dev]'
	$(PIP) install -q --no-deps $(FACE_ALIGNMENT) $(NO_DEPS_EXTRA)
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

# The one-folder app in dist/Facesmith (editor + engine); PyInstaller's cache stays in build/.
bundle: $(STAMP)
	PYINSTALLER_CONFIG_DIR=$(CURDIR)/build/pyinstaller-config $(PY) -m PyInstaller --noconfirm --log-level WARN \
		--distpath dist --workpath build/pyinstaller build_installer.spec
	@du -sh dist/Facesmith

clean-venv:
	rm -rf $(VENV)
