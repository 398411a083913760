# Overten API keys: the commands a developer and CI run. `make help` lists them.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

export DDB_PORT ?= 8000
export AUTH_EMULATOR_PORT ?= 9099
export API_PORT ?= 3000
BENCH_DDB_PORT ?= 8400
FUZZ_SECONDS ?= 20
FUZZ_TARGETS := key_and_headers firebase_token authorizer_event request_bodies

VENV := .venv
CHECKOV_VENV := .venv-checkov
NODE_DEPS := infra/node_modules/.installed
PY_DEPS := $(VENV)/.installed
CHECKOV_DEPS := $(CHECKOV_VENV)/.installed
# Debian's Chromium for the browser test (CORS from the dashboard's origin). Installed with apt
# when missing: the machines here and CI run as root.
CHROMIUM ?= $(shell command -v chromium || echo /usr/bin/chromium)

.PHONY: help deps test lint unit template-check dev token admin github-delivery package bench fuzz soak lock-python clean mutants

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | column -t -s $$'\t'

deps: $(NODE_DEPS) $(PY_DEPS) ## Install DynamoDB Local, firebase-tools and the Python tools, project-local

$(NODE_DEPS): infra/package.json infra/package-lock.json
	cd infra && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(PY_DEPS): infra/requirements.lock
	test -x $(VENV)/bin/python || python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r infra/requirements.lock
	touch $@

$(CHECKOV_DEPS): infra/requirements-checkov.lock
	test -x $(CHECKOV_VENV)/bin/python || python3 -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check -r infra/requirements-checkov.lock
	touch $@

$(CHROMIUM):
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

test: deps $(CHROMIUM) lint template-check ## The whole suite: fmt, clippy, template linters, API fuzzing, unit and integration tests
	# The end-to-end tests run these binaries; inside cargo test they cannot build them.
	cargo build --locked -q -p local-gateway -p overten-admin -p github-keys -p signup -p keys
	infra/scripts/api-fuzz.sh
	CHROMIUM=$(CHROMIUM) infra/scripts/with-services.sh infra/scripts/cargo-test.sh

dev: deps ## Run the whole API on http://127.0.0.1:$(API_PORT) with DynamoDB Local and the Auth emulator
	infra/scripts/dev.sh

token: ## A Firebase ID token from the make dev stack's Auth emulator: TOKEN=$$(make -s token EMAIL=you@example.com)
	@infra/scripts/token.sh

admin: ## Operator CLI against the make dev stack, e.g. make admin ARGS='org create --name N --owner-uid UID'
	@AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:$(DDB_PORT) AWS_REGION=us-east-1 \
	  AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local \
	  API_KEYS_TABLE=$${API_KEYS_TABLE:-overten-local-ApiKeys} ORGS_TABLE=$${ORGS_TABLE:-overten-local-Orgs} \
	  cargo run --locked -q --bin overten-admin -- $(ARGS)

github-delivery: ## A secret-scanning delivery signed with make dev's local GitHub key: make github-delivery KEYS="sk_live_… …"
	@cargo run --locked -q --bin overten-admin -- github deliver --dir $${RUN_DIR:-.run/dev}/github \
	  --url http://127.0.0.1:$(API_PORT)/secret-scanning/github $(KEYS)

lint: ## rustfmt and clippy, warnings as errors
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --locked -- -D warnings

unit: ## Unit tests only (no services needed)
	cargo test --workspace --lib --locked

template-check: $(PY_DEPS) $(CHECKOV_DEPS) ## cfn-lint, sam validate --lint, the SAM transform per parameter value, checkov
	$(VENV)/bin/cfn-lint template.yaml
	AWS_DEFAULT_REGION=us-east-1 SAM_CLI_TELEMETRY=0 $(VENV)/bin/sam validate --lint --template template.yaml
	$(VENV)/bin/python infra/scripts/template-transforms.py template.yaml
	$(CHECKOV_VENV)/bin/checkov --config-file .checkov.yaml

bench: $(NODE_DEPS) ## Release build, DynamoDB Local, the benchmark suite: target/bench/summary.json
	cargo build --release --locked -p signup -p keys -p verify -p authorizer -p whoami
	# The bare baseline, on its own: built with the functions, the bench's `testing` feature
	# would reach their bootstraps.
	cargo build --release --locked -p overten-bench --bin bare-authorizer
	cargo bench --locked --profile release -p overten-bench --bench hot_path
	DDB_PORT=$(BENCH_DDB_PORT) SERVICES=ddb RUN_DIR=.run/bench infra/scripts/with-services.sh \
	  cargo run --release --locked -q -p overten-bench

# The pure modules of the core, the operations over any store (service/, on a recording store),
# the production guards (config.rs) and the authorizer's decision code (README, "Mutation testing").
# Globs: a module's files, its tests beside them are not mutated (cargo-mutants skips cfg(test)).
MUTANTS_FILES := -f shared/src/api_key.rs -f shared/src/credentials.rs -f 'shared/src/requests/*.rs' \
  -f shared/src/firebase/segments.rs -f shared/src/firebase/claims.rs -f shared/src/error.rs \
  -f 'shared/src/audit/*.rs' -f shared/src/clock.rs -f shared/src/store/records.rs \
  -f shared/src/service/mod.rs -f shared/src/service/authenticate.rs -f shared/src/config.rs \
  -f shared/src/key_set/mod.rs -f shared/src/key_set/source.rs
CARGO_MUTANTS_VERSION := 27.1.0

mutants: ## Mutation testing (cargo-mutants) of the core's pure modules and the authorizer, with their crates' own tests
	test -x .tools/bin/cargo-mutants || cargo install cargo-mutants --locked --version $(CARGO_MUTANTS_VERSION) --root .tools
	status=0; export PATH="$(CURDIR)/.tools/bin:$$PATH"; \
	cargo mutants -p overten $(MUTANTS_FILES) -o target/mutants-core || status=$$?; \
	cargo mutants -p authorizer -f functions/authorizer/src/lib.rs -f functions/authorizer/src/response.rs -o target/mutants-authorizer || status=$$?; \
	exit $$status

fuzz: ## Each cargo-fuzz target for FUZZ_SECONDS (default 20) on the nightly toolchain
	test -x .tools/bin/cargo-fuzz || cargo install cargo-fuzz --locked --root .tools
	for t in $(FUZZ_TARGETS); do \
	  mkdir -p .fuzz-corpus/$$t; \
	  PATH="$(CURDIR)/.tools/bin:$$PATH" cargo +nightly fuzz run $$t .fuzz-corpus/$$t fuzz/corpus/$$t -- \
	    -max_total_time=$(FUZZ_SECONDS) -max_len=20000 -rss_limit_mb=1024 || exit 1; \
	done

soak: deps ## Longer runs: schemathesis with 500 examples per operation, each fuzz target for 5 minutes
	cargo build --locked -q -p local-gateway
	SCHEMATHESIS_EXAMPLES=500 infra/scripts/api-fuzz.sh
	$(MAKE) fuzz FUZZ_SECONDS=300

package: $(PY_DEPS) ## sam build: a release arm64 bootstrap per function, via cargo lambda and zig
	rustup target list --installed | grep -q aarch64-unknown-linux-gnu || rustup target add aarch64-unknown-linux-gnu
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" SAM_CLI_TELEMETRY=0 sam build --beta-features --no-cached --template template.yaml
	@for f in .aws-sam/build/*Function/bootstrap; do ls -l "$$f"; done

lock-python: ## Re-pin the Python tools (after changing their versions here)
	rm -rf $(VENV) && python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet cfn-lint==1.58.0 aws-sam-cli==1.170.0 cargo-lambda==1.9.2 ziglang==0.17.0 schemathesis==4.32.5
	{ echo "# Python tools for template checks, packaging and API fuzzing, fully pinned (pip freeze of a fresh venv)."; \
	  echo "# Regenerate: make lock-python"; $(VENV)/bin/pip freeze; } > infra/requirements.lock
	touch $(PY_DEPS)
	rm -rf $(CHECKOV_VENV) && python3 -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet checkov==3.3.30
	{ echo "# checkov, in a venv of its own (.venv-checkov): its pins clash with the SAM CLI's. Fully pinned (pip freeze of a fresh venv)."; \
	  echo "# Regenerate: make lock-python"; $(CHECKOV_VENV)/bin/pip freeze; } > infra/requirements-checkov.lock
	touch $(CHECKOV_DEPS)

clean: ## Remove build output and local service state
	cargo clean
	rm -rf .run
