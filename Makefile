# Click the Button. `make run` and `make test` are all a new machine needs.

BIN      := bin/clickthebutton
VERSION  := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   := $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS  := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
ADDR     ?= :8080
DATA     ?= ./data

.PHONY: all run build web deps dev cluster protocol test test-protocol test-go test-web test-e2e test-faults test-cluster vet clean dist test-dist test-packaging bench bench-long screenshots image test-image

all: build

## run: build everything and start the server on $(ADDR) with $(DATA)
run: build
	./$(BIN) --addr $(ADDR) --data $(DATA)

## build: the release binary, static, with the page embedded
build: web
	@test -f frontend/dist/index.html || { echo "frontend/dist/index.html is missing: the page did not build" >&2; exit 1; }
	CGO_ENABLED=0 go build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) .
	@echo "built $(BIN) $(VERSION)"

## web: the page, built by Vite into frontend/dist, with brotli and gzip copies of every
## file they make smaller (served to browsers that accept them)
web: deps
	npm run build
	node scripts/compress-page.mjs frontend/dist
	@touch frontend/dist/.gitkeep

## deps: Node packages, exactly as package-lock.json says (only when it changed)
deps: node_modules/.install-stamp
node_modules/.install-stamp: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

## dev: the Go server on :8080 plus Vite's dev server with hot reload on :5173
dev: deps
	go build -o bin/clickthebutton-dev .
	@echo "Go server on http://127.0.0.1:8080, page with hot reload on http://localhost:5173 (Ctrl-C stops both)"
	@./bin/clickthebutton-dev --addr 127.0.0.1:8080 --data $(DATA) & server=$$!; \
	trap 'kill $$server 2>/dev/null; wait $$server' INT TERM EXIT; \
	npm run dev

## cluster: one game on three nodes and a redis-server, ports 8081-8083 and 6380 (docs/scale-out.md)
cluster: build
	scripts/cluster.sh

## protocol: the page's wire types and decoders (frontend/src/lib/protocol.gen.ts) from
## their one source, the Go types of internal/protocol
protocol:
	go run ./cmd/protogen

## test: everything CI runs
test: vet test-protocol test-go test-web build test-e2e test-cluster test-dist test-packaging test-image

vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go') 2>/dev/null); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted" >&2; exit 1; fi
	go vet ./...

## test-protocol: fails while protocol.gen.ts is not what make protocol writes
test-protocol:
	go run ./cmd/protogen -check

test-go:
	go test -race -count=1 ./...
	cd bench && go vet ./... && go test -count=1 ./...

test-web: deps
	npm run check
	npm test

## test-e2e: browser tests against the real binary, in Debian's Chromium
test-e2e: build
	CTB_BIN=$(BIN) npm run test:e2e

## screenshots: the README's screenshots (docs/screenshot-*.png), taken by the browser test
## frontend/e2e/screenshots.e2e.ts from the real binary, then shrunk by pngquant when installed
screenshots: build
	CTB_SCREENSHOTS=docs CTB_BIN=$(BIN) npx vitest run --config vitest.e2e.config.ts frontend/e2e/screenshots.e2e.ts
	@if command -v pngquant >/dev/null; then \
		for f in docs/screenshot-desktop.png docs/screenshot-phone.png; do \
			pngquant --force --strip --quality 70-90 --skip-if-larger --ext .png "$$f" || test $$? -eq 98 -o $$? -eq 99; \
		done; \
	else echo "pngquant not found (apt-get install pngquant): the screenshots are left unshrunk" >&2; fi
	@ls -l docs/screenshot-desktop.png docs/screenshot-phone.png

## test-cluster: make cluster as a new user runs it, on free ports, stopped with Ctrl-C
test-cluster: build
	BIN=$(BIN) scripts/test-cluster.sh

## Releases and packaging (packaging/, docs/deploy.md)
DIST_PLATFORMS := linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64

## dist: release binaries dist/clickthebutton_<os>_<arch>[.exe] with the page, plus dist/SHA256SUMS
dist: web
	VERSION='$(VERSION)' COMMIT='$(COMMIT)' packaging/build-dist.sh dist $(DIST_PLATFORMS)

## test-dist: the release recipe for linux/amd64 and windows/amd64 into a temporary folder,
## each checked for the page; and proof that the check refuses a binary without it
test-dist: web
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	VERSION='$(VERSION)' COMMIT='$(COMMIT)' packaging/build-dist.sh "$$tmp" linux/amd64 windows/amd64
	packaging/test-check-embedded.sh

## test-packaging: install.sh into a temporary DESTDIR (files, modes, upgrade), systemd unit verified
test-packaging:
	packaging/test-install.sh

## Container image (Containerfile, docs/deploy.md#container)
CONTAINER ?= podman
IMAGE     ?= clickthebutton
SOURCE    ?= https://github.com/clickthebutton/clickthebutton
# podman keeps HEALTHCHECK only in the docker image format; docker has no such flag.
IMAGE_FORMAT := $(if $(filter podman,$(notdir $(CONTAINER))),--format docker,)

## image: the container image $(IMAGE):$(VERSION) (and :latest), the static binary on scratch
image: build
	@ctx=$$(mktemp -d) && trap 'rm -rf "$$ctx"' EXIT && \
	packaging/image-context.sh $(BIN) "$$ctx/context" && \
	$(CONTAINER) build $(IMAGE_FORMAT) -f Containerfile -t $(IMAGE):$(VERSION) -t $(IMAGE):latest \
		--build-arg VERSION='$(VERSION)' --build-arg COMMIT='$(COMMIT)' --build-arg SOURCE='$(SOURCE)' \
		--build-arg CREATED="$$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$$ctx/context"
	@echo "built image $(IMAGE):$(VERSION)"

## test-image: builds the image with podman into throwaway storage and checks its
## configuration and the binary inside it (containers cannot run here: nothing is started)
test-image: build
	VERSION='$(VERSION)' COMMIT='$(COMMIT)' packaging/test-image.sh $(BIN)

## test-faults: the long fault runs (50 kill -9 rounds, 2 minutes of each game fuzzer)
test-faults:
	CTB_CRASH_ROUNDS=50 go test -race -run TestKill9 -count=1 -v .
	go test -run '^$$' -fuzz FuzzReadSnapshot -fuzztime 2m ./game/
	go test -run '^$$' -fuzz FuzzNormalizeHandle -fuzztime 2m ./game/
	go test -run '^$$' -fuzz FuzzFrameType -fuzztime 2m ./server/
	go test -run '^$$' -fuzz FuzzCookieDecode -fuzztime 2m ./server/

clean:
	rm -rf bin dist node_modules
	find frontend/dist -mindepth 1 ! -name .gitkeep -delete

## bench: a quick benchmark set, a few minutes (engine benchmarks, Redis comparison when redis-server is installed, a short game vs bare transport load run); results in bench/results/quick-*
bench:
	bench/run-quick.sh

## bench-long: the figures of docs/benchmarks.md (about 30 minutes); results and chart in bench/results/long-*
bench-long:
	bench/run-long.sh
