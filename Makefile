# The two commands: `make run` and `make test`. See README.md.
GO      ?= go
BIN     ?= bin/crowdflow
PKGS    := ./...

.PHONY: run test bench build lint deps fuzz drill

## run: the whole system on one machine (embedded store, the Ouarzazate config)
run: build
	$(BIN) demo --config configs/ouarzazate-2025.yaml

## test: every test, against real components (installs redis-server if missing)
test: deps
	$(GO) vet $(PKGS)
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

## bench: benchmarks, printed and appended to BENCHMARKS.md
bench: deps
	$(GO) test -run '^$$' -bench . -benchtime 1s $(PKGS)
	$(GO) run ./bench -out BENCHMARKS.md

## drill: the fault drills at full size, each on its own real processes (a few
## minutes); they print their figures (see BENCHMARKS.md, Drills). make test
## runs a short version of each.
drill: deps
	$(GO) test -tags drill -run '^TestDrill' -count=1 -v -timeout 30m .

## build: the binary in bin/
build:
	$(GO) build -o $(BIN) .

## lint: formatting and vet
lint:
	@test -z "$$(gofmt -l .)" || { gofmt -l .; echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet $(PKGS)

## fuzz: each fuzz target for a while (the seed corpora also run in make test)
FUZZTIME ?= 30s
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzVerify -fuzztime $(FUZZTIME) ./ticket
	$(GO) test -run '^$$' -fuzz FuzzNormalize -fuzztime $(FUZZTIME) ./ticket
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME) ./event
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./wire
	$(GO) test -run '^$$' -fuzz FuzzDecodeScanShortcut -fuzztime $(FUZZTIME) ./wire
	$(GO) test -run '^$$' -fuzz FuzzVerdictAppendJSON -fuzztime $(FUZZTIME) ./wire
	$(GO) test -run '^$$' -fuzz FuzzFrame -fuzztime $(FUZZTIME) ./gateway
	$(GO) test -run '^$$' -fuzz FuzzVerify -fuzztime $(FUZZTIME) ./token

deps:
	@scripts/deps.sh
