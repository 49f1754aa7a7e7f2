# syntax=docker/dockerfile:1
# scimlab: SCIM 2.0 server, provisioning engine and validator in one binary.
#
#   docker build -t scimlab .
#   docker run -p 8080:8080 -e SCIMLAB_TOKEN=change-me -v scimlab-data:/data scimlab
#
# Build stages: cargo-chef compiles the dependencies from a recipe of Cargo.toml and
# Cargo.lock alone, so that layer is reused until a dependency changes; then the crate.
FROM rust:1.95-slim-bookworm AS chef
RUN cargo install cargo-chef --locked --version ^0.1
WORKDIR /build

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
COPY --from=planner /build/recipe.json recipe.json
RUN cargo chef cook --release --locked --recipe-path recipe.json
# The binary embeds grammar/ and the demo's fixtures/.
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY grammar ./grammar
COPY fixtures ./fixtures
RUN cargo build --release --locked && strip target/release/scimlab

# Runtime stage: a slim Debian with the binary (the demo's fixtures are compiled in; the
# fixture files come along as examples for job files) and curl
# for the health check, running as an unprivileged user.
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin scimlab \
    && mkdir -p /data && chown scimlab /data
COPY --from=builder /build/target/release/scimlab /usr/local/bin/scimlab
COPY fixtures /opt/scimlab/fixtures
WORKDIR /opt/scimlab
USER scimlab
VOLUME ["/data"]
EXPOSE 8080
ENV SCIMLAB_ADDR=0.0.0.0:8080 \
    SCIMLAB_DATA=/data \
    SCIMLAB_LOG_FORMAT=json \
    SCIMLAB_READY_FILE=/tmp/scimlab.ready
# The health check asks the address the server announced in its ready file, so it follows
# any --addr/SCIMLAB_ADDR and HTTP or HTTPS (-k: it talks to itself). Discovery is public in
# the default command so the check needs no credentials; every resource endpoint still
# requires SCIMLAB_TOKEN (or JWT settings).
HEALTHCHECK --interval=30s --timeout=3s --start-period=5s --retries=3 \
    CMD url=$(sed -n 's/.*"url":"\([^"]*\)".*/\1/p' "$SCIMLAB_READY_FILE") \
        && curl -fsSk "$url/ServiceProviderConfig" > /dev/null || exit 1
ENTRYPOINT ["scimlab"]
CMD ["serve", "--public-discovery"]
