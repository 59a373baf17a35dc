# syntax=docker/dockerfile:1
# Falcon inference server image. Build from the repository root:
#   docker build -t falcon:dev .
# Run (prediction open, model-repository API off; see deploy/README.md):
#   docker run --rm -p 8000:8000 falcon:dev
# Every setting is a FALCON_* environment variable (`falcon serve --help`).
# crates/falcon/tests/deploy_image.rs parses this file and runs its final
# stage's ENV, USER, ENTRYPOINT/CMD, EXPOSE and HEALTHCHECK outside a
# container: keep the final stage's instructions in the forms it reads.

# --- builder: Rust 1.95 (the workspace's rust-version), dependencies cached
# in their own layer with cargo-chef (a rebuild after a source change starts
# from compiled dependencies), everything --locked to Cargo.lock.
FROM rust:1.95-slim-trixie AS chef
RUN cargo install cargo-chef --locked --version 0.1.78
WORKDIR /src

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
COPY --from=planner /src/recipe.json recipe.json
RUN cargo chef cook --release --locked --package falcon --recipe-path recipe.json
COPY . .
RUN cargo build --release --locked --package falcon \
    && install -D -m 0755 target/release/falcon /out/falcon

# --- runtime: Debian slim (glibc, like the builder), curl for HEALTHCHECK,
# a non-root user, the bundled demo model. curl is the distribution's current
# build (hadolint DL3008 is waived in deploy/hadolint.yaml: Debian drops old
# versions from its archive, so a pin would break the build at the next
# security update; the binary itself is pinned by Cargo.lock).
FROM debian:trixie-slim AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends curl \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 falcon \
    && useradd --system --uid 10001 --gid falcon --home-dir /var/lib/falcon --no-create-home falcon \
    && install -d -o 10001 -g 10001 -m 0750 /var/lib/falcon
COPY --from=builder /out/falcon /usr/local/bin/falcon
COPY models /app/models
WORKDIR /app
# Listen on every interface (a container's port is reached from outside).
# The bind guard of `falcon serve` refuses 0.0.0.0 with --auth off while the
# repository routes are on, so the image's default is: prediction open, the
# model-repository API off. Compose and Kubernetes turn API keys on
# (FALCON_AUTH=required, an admin key from a secret) and the API back on.
# FALCON_DATA_DIR holds the prediction-log spool and SQLite: a volume.
ENV FALCON_ADDR=0.0.0.0:8000 \
    FALCON_MODELS=/app/models \
    FALCON_DATA_DIR=/var/lib/falcon \
    FALCON_LOG_FORMAT=json \
    FALCON_AUTH=off \
    FALCON_REPOSITORY_ROUTES=off \
    FALCON_DRAIN_TIMEOUT=30s
VOLUME ["/var/lib/falcon"]
USER 10001:10001
EXPOSE 8000
# The port comes from FALCON_ADDR, so `-e FALCON_ADDR=0.0.0.0:9000` keeps it right.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["sh", "-c", "curl -fsS -o /dev/null \"http://127.0.0.1:${FALCON_ADDR##*:}/readyz\" || exit 1"]
# SIGTERM: stop accepting, drain in-flight requests (FALCON_DRAIN_TIMEOUT),
# flush the prediction log, exit 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/falcon"]
CMD ["serve"]
