# Everything starts from a fresh machine: each target creates .venv if missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Generated crates share one target dir, so ndarray and friends build once.
export CARGO_TARGET_DIR ?= $(CURDIR)/target/cargo
# Every build here starts from scratch or changes whole files: incremental compilation's
# caches cost time and never pay back. Dev builds (the tests') keep line tables for
# backtraces, not full debug info: a fifth of a cold dev build of a generated crate.
export CARGO_INCREMENTAL ?= 0
export CARGO_PROFILE_DEV_DEBUG ?= line-tables-only

.PHONY: demo test test-runtime test-python venv dev-venv lint clean models docs bench-real chromium openblas

$(VENV)/.base: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.dev: $(VENV)/.base
	$(PY) -m pip install --quiet -e ".[dev,tf,torch]"
	# triton (torch's GPU compiler) and TensorFlow both bundle LLVM: loading both aborts
	# the process. The CPU export path never needs triton.
	$(PY) -m pip uninstall --quiet --yes triton
	touch $@

venv: $(VENV)/.base
dev-venv: $(VENV)/.dev

## make demo: convert the shipped char-CNN, build it, run it, compare with ONNX Runtime:
## its outputs, then its latency and peak memory (3 rounds alternated with ONNX Runtime).
demo: $(VENV)/.base
	$(VENV)/bin/onnx2rs verify examples/charcnn.onnx --show 1
	COLUMNS=120 $(VENV)/bin/onnx2rs bench examples/charcnn.onnx --no-threads --rounds 3

# The HTML report test renders in headless Chromium (Debian's package).
chromium:
	@command -v chromium >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }

# The runtime's optional `blas` feature links the system OpenBLAS (Debian's package).
openblas:
	@ldconfig -p | grep -q libopenblas.so || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq libopenblas-dev >/dev/null; }

## make lint: ruff and mypy over the compiler, its tests and scripts (also run by `make test`).
lint: $(VENV)/.dev
	$(VENV)/bin/ruff check onnx2rs tests scripts examples
	$(VENV)/bin/mypy

## make test: the whole suite (Python unit tests, runtime crate, end-to-end crates).
test: $(VENV)/.dev lint chromium openblas
	$(MAKE) --no-print-directory -j2 test-runtime test-python

# The runtime crate's lints and tests, in a target dir of their own so that they run beside the
# Python suite (whose crates take turns in the shared one) on the core it leaves idle.
test-runtime:
	export CARGO_TARGET_DIR=$(CURDIR)/runtime-crate/target; cd runtime-crate && cargo fmt --check \
	  && cargo clippy --all-targets --quiet -- -D warnings && cargo test --quiet \
	  && for f in threads blas; do cargo clippy --all-targets --features $$f --quiet -- -D warnings \
	     && cargo test --quiet --features $$f --test linalg --test conv_layouts || exit 1; done \
	  && cargo test --quiet --features threads --lib --test parallel

# Two workers, a test file each: while one waits on cargo (which builds one crate at a
# time in the shared target dir), the other converts, simplifies and runs ONNX Runtime.
test-python: $(VENV)/.dev
	$(PY) -m pytest -q -n 2 --dist loadfile --durations=25

## make models: regenerate the committed Keras-made .onnx files (needs the [tf] extra).
models: $(VENV)/.dev
	$(PY) scripts/make_models.py

## make bench-real: time the real-workload set (P8) against ONNX Runtime and tract (slow).
bench-real: $(VENV)/.dev
	$(PY) -m pip install --quiet -e ".[bench]"
	$(PY) -m pip uninstall --quiet --yes triton
	$(PY) scripts/bench_real.py

## make docs: regenerate docs/ops.md from the op registry.
docs: $(VENV)/.base
	$(PY) scripts/gen_ops_doc.py

clean:
	rm -rf target runtime-crate/target
