# sluice — common tasks. `make demo` runs the quickstart plan end to end;
# `make test` runs every test. Both install what they need from Debian's
# packages and the Go module proxy when it is missing (scripts/).
GO ?= go

.PHONY: build demo test vet lint fuzz schema

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

lint:
	gofmt -l . | tee /dev/stderr | (! read)
	$(GO) vet ./...
	staticcheck ./...

fuzz:
	$(GO) test ./runner -run '^$$' -fuzz FuzzLoad -fuzztime 30s
	$(GO) test ./runner -run '^$$' -fuzz FuzzInterpolate -fuzztime 30s
	$(GO) test ./steps/pg -run '^$$' -fuzz FuzzDSNSecrets -fuzztime 30s
	$(GO) test ./runner -run '^$$' -fuzz FuzzRedact -fuzztime 30s
	$(GO) test ./steps/manifest -run '^$$' -fuzz FuzzParse -fuzztime 30s
	$(GO) test ./steps/catalog -run '^$$' -fuzz FuzzManifestGate -fuzztime 30s

# schemas/plan.schema.json is generated from the step registry; a test in
# cmd/sluice fails when the committed file is stale.
schema:
	$(GO) run ./cmd/sluice schema > schemas/plan.schema.json.tmp
	mv schemas/plan.schema.json.tmp schemas/plan.schema.json
