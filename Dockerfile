# syntax=docker/dockerfile:1
# Gatehouse container image: a static binary on an empty base, run as an
# unprivileged user, the database on a volume.
#
#   docker build --build-arg VERSION=v1.2.3 --build-arg COMMIT=$(git rev-parse HEAD) -t gatehouse .
#   docker run -d --name gatehouse -v gatehouse-data:/var/lib/gatehouse \
#     -v $PWD/gatehouse.yaml:/etc/gatehouse/gatehouse.yaml:ro \
#     -e SLACK_APP_TOKEN -e SLACK_BOT_TOKEN gatehouse
#
# See docs/operations.md.

# Build stage: pinned Go toolchain (matches go.mod's go line or newer).
FROM golang:1.26.0-bookworm AS build
WORKDIR /src
# Modules first: the layer is reused while go.mod/go.sum do not change.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=""
ARG COMMIT=""
ARG BUILD_DATE=""
# Static (no libc), reproducible paths, version stamped; time zones are
# embedded (timetzdata) because the final image has no /usr/share/zoneinfo.
RUN CGO_ENABLED=0 go build -trimpath -tags timetzdata \
      -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT} -X main.buildDate=${BUILD_DATE}" \
      -o /out/gatehouse ./cmd/gatehouse \
 && mkdir -p /out/var/lib/gatehouse /out/etc/gatehouse \
 && echo 'gatehouse:x:10001:10001:gatehouse:/var/lib/gatehouse:/sbin/nologin' > /out/passwd \
 && echo 'gatehouse:x:10001:' > /out/group

# Final stage: nothing but the binary, CA certificates and the user.
FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/passwd /etc/passwd
COPY --from=build /out/group /etc/group
COPY --from=build --chown=10001:10001 /out/var/lib/gatehouse /var/lib/gatehouse
COPY --from=build /out/etc/gatehouse /etc/gatehouse
COPY --from=build /out/gatehouse /usr/local/bin/gatehouse
USER 10001:10001
ENV GATEHOUSE_CONFIG=/etc/gatehouse/gatehouse.yaml
WORKDIR /var/lib/gatehouse
VOLUME ["/var/lib/gatehouse"]
# 8080: HR webhooks (hr.listen); 9464: metrics and health (metrics.listen).
EXPOSE 8080 9464
# The binary probes itself: no shell or curl in the image. metrics.listen
# must be set (e.g. 0.0.0.0:9464 or 127.0.0.1:9464) for /healthz to answer.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["/usr/local/bin/gatehouse", "health", "--url", "http://127.0.0.1:9464/healthz"]
# SIGTERM is what `docker stop` sends; serve exits within
# engine.shutdown_grace (default 10s, docker's own stop timeout is 10s:
# use `docker stop -t 15` or `stop_grace_period: 15s`).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/gatehouse"]
CMD ["serve", "--db", "/var/lib/gatehouse/gatehouse.db"]
