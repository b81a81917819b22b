# Click the Button. `make run` and `make test` are all a new machine needs.

BIN      := bin/clickthebutton
VERSION  := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
ADDR     ?= :8080
DATA     ?= ./data

.PHONY: all run build web deps dev test test-go test-web test-e2e vet clean

all: build

## run: build everything and start the server on $(ADDR) with $(DATA)
run: build
	./$(BIN) --addr $(ADDR) --data $(DATA)

## build: the release binary, static, with the page embedded
build: web
	@test -f frontend/dist/index.html || { echo "frontend/dist/index.html is missing: the page did not build" >&2; exit 1; }
	CGO_ENABLED=0 go build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) .
	@echo "built $(BIN) $(VERSION)"

## web: the page, built by Vite into frontend/dist
web: deps
	npm run build
	@touch frontend/dist/.gitkeep

## deps: Node packages, exactly as package-lock.json says (only when it changed)
deps: node_modules/.install-stamp
node_modules/.install-stamp: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

## dev: the Go server on :8080 plus Vite's dev server with hot reload on :5173
dev: deps
	@echo "Go server on http://127.0.0.1:8080, page with hot reload on http://localhost:5173"
	@trap 'kill 0' INT TERM EXIT; \
	go run . --addr 127.0.0.1:8080 --data $(DATA) & \
	npm run dev

## test: everything CI runs
test: vet test-go test-web build test-e2e

vet:
	@unformatted=$$(gofmt -l main.go main_test.go embed.go game server); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted" >&2; exit 1; fi
	go vet ./...

test-go:
	go test -race -count=1 ./...

test-web: deps
	npm run check
	npm test

## test-e2e: browser tests against the real binary, in Debian's Chromium
test-e2e: build
	CTB_BIN=$(BIN) npm run test:e2e

clean:
	rm -rf bin node_modules
	find frontend/dist -mindepth 1 ! -name .gitkeep -delete
