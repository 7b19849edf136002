# syntax=docker/dockerfile:1
# Gatehouse's image: a static binary (CGO_ENABLED=0) on distroless/static,
# running as the distroless nonroot user (65532), nothing writable needed but
# /tmp (the Deployment mounts an emptyDir there and makes the root read-only).
#   make image                     # docker build -t gatehouse:$(VERSION) .
ARG GO_VERSION=1.26

FROM golang:${GO_VERSION} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=linux go build -trimpath \
      -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
      -o /out/gatehouse ./cmd/gatehouse

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/gatehouse /gatehouse
# The schema travels inside the binary (gatehouse migrate); the default
# regions file is the local one, replaced by the ConfigMap in Kubernetes.
COPY regions/local.yaml /etc/gatehouse/regions.yaml
USER 65532:65532
EXPOSE 8080
ENV GATEHOUSE_REGIONS_FILE=/etc/gatehouse/regions.yaml
ENTRYPOINT ["/gatehouse"]
CMD ["serve"]
