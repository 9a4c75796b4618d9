# One command sets up and runs each job; the virtual environment is made once and reused.
#   make train      set up, then train the CPU-sized MNIST model and write its sample grids (the main job)
#   make test       set up, then run every notebook's tests, skipping the slow cells (the README's test command)
#   make test-slow  the same, including cells flagged `#| slow`; installs the `bench` extra first (diffusers and
#                   denoising-diffusion-pytorch), the references the slow cells cross-check against (what CI runs)
#   make sample     64 digits from the pretrained model shipped in the package
#   make docs       build the docs site into _proc/_docs (without Quarto); make check-site opens every page in Chromium
#   make check-lab  run chapters 01 and 06 in JupyterLab in headless Chromium (errors, widgets, maths, figures)
#   make check-fresh  run chapters from a wheel in a new virtual environment outside the repository, as on Colab
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.ddpm_nb-installed
BENCH  := $(VENV)/.ddpm_nb-bench-installed
export DDPM_NB_DATA ?= $(CURDIR)/data
SHARED_DATA ?= $(or $(DDPM_NB_SHARED_DATA),../shared/data)
DATASETS := MNIST FashionMNIST

.PHONY: setup setup-bench data train test test-slow check-lab check-fresh sample docs check-site export

$(STAMP): settings.ini setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

# the torch already installed satisfies the extra, so pip keeps it (pip's default upgrade strategy is only-if-needed)
$(BENCH): $(STAMP)
	$(PY) -m pip install -q -e '.[dev,bench]'
	touch $(BENCH)

setup-bench: $(BENCH)

# MNIST and Fashion-MNIST from the offline archives beside the checkout when there are any (read, never written to),
# copied through a temporary folder so that an interrupted copy leaves nothing half-written; else torchvision
# downloads them on first use
data: $(addprefix data/,$(addsuffix /raw,$(DATASETS)))

data/%/raw:
	@if [ -d "$(SHARED_DATA)/$*/raw" ]; then \
	  rm -rf "data/$*/.raw.tmp" && mkdir -p "data/$*" && cp -r "$(SHARED_DATA)/$*/raw" "data/$*/.raw.tmp" && \
	  chmod -R u+w "data/$*/.raw.tmp" && mv "data/$*/.raw.tmp" "data/$*/raw" && echo "data/$*/raw: copied from $(SHARED_DATA)"; \
	else echo "no offline $* archives in $(SHARED_DATA): torchvision downloads them into data/$* on first use"; fi

train: setup data
	$(VENV)/bin/ddpm_nb_train --config cpu
	@echo "sample grids: outputs/mnist_cpu/samples_epoch_*.png"

test: setup data
	$(PY) tools/test_nbs.py

test-slow: setup-bench data
	$(PY) tools/test_nbs.py --flags slow

# the learner's path: chapters run in JupyterLab in headless Chromium, and from a wheel in a fresh venv elsewhere
check-lab: setup data
	$(PY) tools/check_lab.py

check-fresh: setup data
	$(PY) tools/check_fresh.py

sample: setup
	$(VENV)/bin/ddpm_nb_sample --pretrained mnist --sampler dpm++2m --steps 20 --outdir outputs/pretrained_samples

docs: setup
	$(PY) tools/build_site.py

check-site: setup
	$(PY) tools/check_site.py --shots _proc/shots

export: setup
	$(VENV)/bin/nbdev_export && $(VENV)/bin/nbdev_clean
