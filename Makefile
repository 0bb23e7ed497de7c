# banco's build. `make demo` runs the whole flow on real input; `make test`
# vets, tests and cross-compiles everything.

GO      ?= go
BIN     ?= bin/banco
TARGETS := linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64

.PHONY: all build test vet unit cross wine-test demo crash-test bench postgres clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN) ./cmd/banco

# test: vet on every OS we ship, all tests (PostgreSQL included), the cross
# builds, and the hosts package as a Windows binary under wine where wine can
# be installed.
test: postgres vet unit cross wine-test

vet:
	$(GO) vet ./...
	GOOS=windows $(GO) vet ./...
	GOOS=darwin $(GO) vet ./...

unit: postgres
	$(GO) test -count=1 -timeout 30m ./...

cross:
	@for t in $(TARGETS); do \
		os=$${t%/*}; arch=$${t#*/}; ext=; [ $$os = windows ] && ext=.exe; \
		echo "build $$os/$$arch"; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath \
			-o dist/banco-$$os-$$arch$$ext ./cmd/banco || exit 1; \
	done

wine-test:
	scripts/wine-test

postgres:
	scripts/ensure-postgres

demo: build
	BANCO=$(BIN) scripts/demo

crash-test: build postgres
	$(GO) test -count=1 -timeout 60m -run 'Crash' ./banksrv/crashtest/ -crash.rounds=20 -v

bench: build postgres
	$(GO) test -run '^$$' -bench . -benchtime 2s ./ledger/ ./banksrv/

clean:
	rm -rf bin dist
