# syntax=docker/dockerfile:1
# Multi-stage build of the pingauth service: a static binary (CGO off; the
# embedded SQLite driver is pure Go) on a distroless, non-root base image.

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/pingauth ./cmd/pingauth \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/pingauth /pingauth
# Owned by the nonroot user (65532) so a named volume mounted here is writable
# (embedded SQLite database and master key when no PostgreSQL/Vault is used).
COPY --from=build --chown=65532:65532 /out/data /data
ENV PINGAUTH_ADDR=0.0.0.0:8080 \
    PINGAUTH_DATA_DIR=/data
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/pingauth"]
CMD ["serve"]
