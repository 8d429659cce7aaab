# syntax=docker/dockerfile:1
#
# Switchboard container image: one static binary on distroless, non-root.
#
#   docker build -t switchboard:dev .
#   docker build -t switchboard:1.2.3 --build-arg VERSION=1.2.3 \
#       --build-arg COMMIT=$(git rev-parse --short HEAD) .
#   docker run -p 8080:8080 -v switchboard-data:/data switchboard:dev
#
# No secrets are baked in: the JWT secret comes from SWITCHBOARD_JWT_SECRET /
# SWITCHBOARD_JWT_SECRET_FILE at run time (or is generated once into /data),
# provider keys from the variables named by api_key_env. See docs/deploy.md.
#
# There is no HEALTHCHECK: distroless has no shell, curl or wget to run one.
# Probe GET /healthz (liveness) and GET /readyz (stores reachable) from the
# orchestrator or load balancer instead (Kubernetes httpGet probes, nginx
# max_fails, a Compose healthcheck in a sidecar, …).

# The Go release must be at least the go directive of go.mod (1.26.8): the
# official images set GOTOOLCHAIN=local and will not download a newer one.
ARG GO_VERSION=1.26

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src

# Modules first, so source edits do not invalidate the download layer.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download

COPY . .

ARG VERSION=dev
ARG COMMIT=
ARG TARGETOS=linux
ARG TARGETARCH
# CGO_ENABLED=0: the SQLite driver is modernc.org/sqlite (pure Go), so the
# binary is fully static and needs no libc in the final image.
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath \
      -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
      -o /out/switchboard ./cmd/switchboard

# The data directory, owned by the distroless "nonroot" user (65532). A new
# named volume mounted on /data is initialised from it, ownership included.
RUN mkdir -p /out/data && chown 65532:65532 /out/data && chmod 0700 /out/data

FROM gcr.io/distroless/static-debian12:nonroot
# distroless/static carries CA certificates (HTTPS to model providers), tzdata
# (inbox business hours) and /etc/passwd with the nonroot user.

LABEL org.opencontainers.image.title="switchboard" \
      org.opencontainers.image.description="Self-hosted AI chat and customer-service server" \
      org.opencontainers.image.source="https://github.com/switchboard-chat/switchboard"

COPY --from=build /out/switchboard /switchboard
COPY --from=build --chown=65532:65532 /out/data /data

# Admin commands run with `docker exec` find the same SQLite store.
ENV SWITCHBOARD_DATA_DIR=/data
USER 65532:65532
VOLUME ["/data"]
EXPOSE 8080

# serve stops on SIGTERM: it stops accepting, lets running answers finish
# (bounded by shutdown_timeout, default 20 s), closes WebSockets with 1012
# "server restarting" and exits. Give it shutdown_timeout + 15 s before a
# SIGKILL (docker stop -t 35, Compose stop_grace_period: 35s,
# Kubernetes terminationGracePeriodSeconds: 35).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/switchboard"]
CMD ["serve", "--addr", ":8080", "--data-dir", "/data"]
