# sealift: `make demo` runs the main job on a built-in demo, `make test` runs the tests.
# Both install what they need from Debian when run as root (scripts/deps.sh).

CARGO ?= cargo
SEALIFT = target/release/sealift
SPEC ?= bundles/demo.toml
BUNDLE ?= out/bundle.tar
TO ?= 127.0.0.1:5001/mirror
# Trust for `make unpack`, e.g. LOAD_FLAGS="--policy site-policy.toml --bundle-key seal.pub".
LOAD_FLAGS ?=

.PHONY: all build deps test test-big lint demo e2e pack unpack bench clean

all: build

deps:
	@scripts/deps.sh

build: deps
	$(CARGO) build --release --locked

test: export SEALIFT_WITH_CHROMIUM=1
test: export SEALIFT_WITH_FERRO=1
test: deps
	$(CARGO) test --locked --all-targets

# The multi-GiB tests (issue 10: a 2.2 GiB volume set loaded across its parts), with a
# release build of sealift: about 7 GiB of disk at the peak, a few minutes.
test-big: deps
	$(CARGO) test --release --locked --test main -- --ignored --nocapture volumes::a_multi_gib

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --locked --all-targets -- -D warnings

demo: build
	scripts/demo.sh

e2e: demo

# Like the original proof of concept: pack the images of a spec into a bundle file,
# unpack (load) a bundle into a registry. Override SPEC, BUNDLE, TO.
pack: build
	@mkdir -p $(dir $(BUNDLE))
	$(SEALIFT) save --spec $(SPEC) -o $(BUNDLE)

unpack: build
	$(SEALIFT) load $(BUNDLE) --to $(TO) $(LOAD_FLAGS)

bench: build
	bench/run.sh

clean:
	$(CARGO) clean
	rm -rf out
