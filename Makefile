# ossmount build, test, demo and benchmark entry points.
GO        ?= go
BIN       := bin
PREFIX    ?= /usr/local
SBINDIR   ?= /sbin
GOFLAGS   ?=
export GOFLAGS

.PHONY: all build test unit e2e deps lint demo demo-stop bench install uninstall clean

all: build

build:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ossmount ./cmd/ossmount
	$(GO) build -o $(BIN)/osslocal ./cmd/osslocal

# deps installs what the end-to-end tests need (Debian fuse3 and attr) when
# missing and when we are root; otherwise it only reports.
deps:
	@./test/deps.sh

lint:
	@out=$$(gofmt -l . 2>&1); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# Every skipped test is listed with its reason (test/testreport), -v or not.
# The engine and the file system's unit tests run under the race
# detector too (concurrent lookups, reads, writers and their locks).
test: deps lint build
	$(GO) build -o $(BIN)/testreport ./test/testreport
	$(GO) test -race -count=1 -timeout 5m ./engine ./fs
	OSSMOUNT_E2E_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -timeout 12m -json ./... | $(BIN)/testreport

bench: build
	$(GO) test -count=1 -timeout 120m -run '^$$' -bench Ossmount -benchtime 1x ./test/e2e/

demo: build
	@./test/demo.sh

demo-stop:
	@./test/demo.sh stop

# install puts ossmount in $(PREFIX)/bin and links it as mount(8)'s helper
# for type fuse.ossmount, $(SBINDIR)/mount.fuse.ossmount, so fstab lines
# and `mount -t fuse.ossmount` work. DESTDIR stages the tree (packaging).
install: build
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(SBINDIR)
	install -m 0755 $(BIN)/ossmount $(DESTDIR)$(PREFIX)/bin/ossmount
	install -m 0755 $(BIN)/osslocal $(DESTDIR)$(PREFIX)/bin/osslocal
	ln -sf $(PREFIX)/bin/ossmount $(DESTDIR)$(SBINDIR)/mount.fuse.ossmount

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/ossmount $(DESTDIR)$(PREFIX)/bin/osslocal $(DESTDIR)$(SBINDIR)/mount.fuse.ossmount

clean:
	rm -rf $(BIN)
