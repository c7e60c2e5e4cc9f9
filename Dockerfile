# bouncewatch container image.
#
#   docker build -t bouncewatch .
#   docker run --rm bouncewatch demo --once --mail /usr/share/bouncewatch/mail
#   docker run -d --name bouncewatch --env-file bouncewatch.env \
#       -v bouncewatch:/var/lib/bouncewatch -p 127.0.0.1:8080:8080 bouncewatch
#
# NOTE: this file has not been built on the development machines (they have no
# Docker engine); the Go build command is the one used there and in CI.
#
# The final image is distroless (no shell, no package manager), so it has no
# HEALTHCHECK instruction: there is nothing inside to run curl or wget with.
# Probe /healthz and /readyz from outside instead (Kubernetes probes, compose
# or a monitoring system), see docs/operations.md.

FROM golang:1.26-bookworm AS build
WORKDIR /src
# Dependencies first, so code changes do not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# modernc.org/sqlite is pure Go: a static binary without cgo.
RUN CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /out/bouncewatch ./cmd/bouncewatch \
	&& mkdir -p /out/state /out/mail \
	&& cp testdata/mail/*.eml /out/mail/

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/bouncewatch /bouncewatch
# The fixtures, only for `bouncewatch demo --mail /usr/share/bouncewatch/mail`.
COPY --from=build /out/mail /usr/share/bouncewatch/mail
# The state directory, owned by the nonroot user; a new named volume mounted
# here copies this ownership.
COPY --from=build --chown=65532:65532 /out/state /var/lib/bouncewatch
USER 65532:65532
ENV BOUNCEWATCH_DB=/var/lib/bouncewatch/bouncewatch.db \
	BOUNCEWATCH_HTTP_ADDR=:8080
VOLUME /var/lib/bouncewatch
# /healthz, /readyz and /metrics.
EXPOSE 8080
ENTRYPOINT ["/bouncewatch"]
CMD ["run"]
