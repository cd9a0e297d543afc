# Two commands do all set-up on a fresh Debian/Ubuntu machine: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.noticer-installed
# System packages: Tesseract and its English data for OCR, fonts for the generated fixtures.
# Tesseract's models of other scripts (0.4-1.4 MB each) tell lettering in those scripts from
# garbled Latin text (rules/text/scripts.py); Droid Sans Fallback (CJK, 1.8 MB) and Lohit
# Devanagari (0.1 MB) draw the generated cases in those scripts (DejaVu has the others).
SYSTEM_PACKAGES := tesseract-ocr tesseract-ocr-eng fonts-dejavu-core fonts-liberation2 chromium \
	tesseract-ocr-rus tesseract-ocr-ell tesseract-ocr-ara tesseract-ocr-heb tesseract-ocr-hin \
	tesseract-ocr-jpn tesseract-ocr-kor fonts-droid-fallback fonts-lohit-deva

.PHONY: demo test setup system-deps fixtures bench clean

demo: setup
	@echo "== noticer check fixtures/gallery"
	@$(BIN)/noticer check fixtures/gallery --no-progress; rc=$$?; \
	  if [ $$rc -gt 1 ]; then exit $$rc; fi; \
	  echo "(exit code $$rc: 1 means images with defects were found, as the gallery is meant to show)"

test: setup
	bash .ci/pytest

# The engine and the rules are compiled to bytecode on every set-up (what is up to date is
# skipped: ~0.07 s). An editable install leaves that to Python's first import, which never
# writes it where PYTHONDONTWRITEBYTECODE is set: each run then compiled every module again,
# ~0.3 s more start-up for a run over one image (1.3 s instead of 1.0 s, measured).
setup: system-deps $(STAMP)
	@$(BIN)/python -m compileall -q checker rules

system-deps:
	@missing=""; \
	for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	$(PYTHON) -c 'import venv, ensurepip' 2>/dev/null || missing="$$missing python3-venv"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; \
	  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO="sudo"; \
	  else echo "noticer needs system packages:$$missing"; \
	       echo "run: sudo apt-get update && sudo apt-get install -y$$missing"; exit 1; fi; \
	  echo "installing system packages:$$missing"; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test,dask]'
	$(BIN)/python -m checker.doctor
	touch $(STAMP)

fixtures: setup
	$(BIN)/python fixtures/make_fixtures.py

# Accuracy and speed benchmarks (they read ../shared/corpus when it is there).
bench: setup
	$(BIN)/python -m bench.metadata
	$(BIN)/python -m bench.hands
	$(BIN)/python -m bench.text
	$(BIN)/python -m bench.align
	$(BIN)/python -m bench.speed

clean:
	rm -rf $(VENV) .noticer_cache .pytest_cache
