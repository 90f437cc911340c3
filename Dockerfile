# Swapline in a container: `docker compose up` runs it with PostgreSQL (see docker-compose.yml).
#   docker build -t swapline .
#   docker run -e DATABASE_URL=postgres://… -e SWAPLINE_MASTER_KEY=… -p 8080:8080 swapline
# Package.swift needs swift-tools-version 6.2 or newer; override with --build-arg SWIFT_VERSION=….
ARG SWIFT_VERSION=6.3

# ---- build ----------------------------------------------------------------------------------
FROM swift:${SWIFT_VERSION}-bookworm AS build
WORKDIR /build

# Dependencies first, so editing the sources does not download them again; a Package.resolved
# in the build context pins them.
COPY Package.* ./
RUN swift package resolve $([ -f Package.resolved ] && echo --force-resolved-versions)

COPY . .
RUN swift build -c release --product swapline --static-swift-stdlib \
    && mkdir -p /staging \
    && cp "$(swift build -c release --show-bin-path)/swapline" /staging/ \
    && cp /usr/libexec/swift/linux/swift-backtrace-static /staging/ \
    && cp -R schema /staging/schema

# ---- run ------------------------------------------------------------------------------------
FROM debian:bookworm-slim
RUN export DEBIAN_FRONTEND=noninteractive \
    && apt-get -q update \
    && apt-get -q install -y --no-install-recommends ca-certificates tzdata \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --user-group --home-dir /app --shell /usr/sbin/nologin swapline

WORKDIR /app
COPY --from=build --chown=root:root /staging /app

ENV PATH=/app:$PATH \
    SWAPLINE_SCHEMA_DIR=/app/schema \
    SWAPLINE_HOST=0.0.0.0 \
    SWAPLINE_PORT=8080 \
    SWIFT_BACKTRACE=enable=yes,sanitize=yes,threads=all,images=all,interactive=no,swift-backtrace=/app/swift-backtrace-static

USER swapline:swapline
EXPOSE 8080
# `serve` applies the migrations in /app/schema at start-up, then serves the API and runs the workers.
CMD ["swapline", "serve", "--host", "0.0.0.0", "--port", "8080"]
