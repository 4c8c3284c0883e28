# sluice — common tasks. `make demo` runs the quickstart plan end to end;
# `make test` runs every test. Both install what they need from Debian's
# packages and the Go module proxy when it is missing (scripts/).
GO ?= go

.PHONY: build demo test vet lint fuzz schema docs

build:
	$(GO) build -o bin/sluice ./cmd/sluice

demo: build
	scripts/install-deps.sh
	./bin/sluice run plans/quickstart.yaml

# -p 1: one test package at a time. The latency tests (measure against
# pgbench, the overhead gate) compare timings; a second package's
# PostgreSQL clusters running beside them on 2 cores only add noise.
test:
	scripts/install-test-deps.sh
	$(GO) vet ./...
	$(GO) test -count=1 -p 1 -timeout 20m ./...
	$(MAKE) fuzz FUZZTIME=50000x

lint:
	gofmt -l . | tee /dev/stderr | (! read)
	$(GO) vet ./...
	staticcheck ./...

# The fuzz targets, FUZZTIME each (30s by default). `make test` runs each
# for 50,000 inputs too (a few seconds): the seed corpora run in every `go
# test`, and a short search in CI catches what a change makes newly
# reachable. A count, not a duration: Go 1.26's fuzz coordinator can fail a
# target with a bare "context deadline exceeded" when a -fuzztime duration
# ends while a worker is busy (golang/go#75804, fixed in Go 1.27), which a
# loaded CI machine hits.
FUZZTIME ?= 30s
FUZZ_TARGETS = ./runner:FuzzLoad ./runner:FuzzInterpolate ./runner:FuzzRedact \
	./steps/pg:FuzzDSNSecrets ./steps/manifest:FuzzParse ./steps/catalog:FuzzManifestGate

fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
	  echo "fuzz $${t#*:} ($${t%%:*}, $(FUZZTIME))"; \
	  $(GO) test $${t%%:*} -run '^$$' -fuzz "^$${t#*:}$$" -fuzztime $(FUZZTIME) -parallel 2; \
	done

# schemas/plan.schema.json is generated from the step registry; a test in
# cmd/sluice fails when the committed file is stale.
schema:
	$(GO) run ./cmd/sluice schema > schemas/plan.schema.json.tmp
	mv schemas/plan.schema.json.tmp schemas/plan.schema.json

# docs/steps.md is generated from the step registry; a test in cmd/sluice
# fails when the committed file is stale.
docs:
	$(GO) run ./cmd/sluice steps --format markdown > docs/steps.md.tmp
	mv docs/steps.md.tmp docs/steps.md
