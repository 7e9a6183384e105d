# Builds the star-pipeline binary (cgo for SQLite) on Debian.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN GOEXPERIMENT=simd CGO_ENABLED=1 go build -o /out/star-pipeline ./cmd/star-pipeline

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates nodejs npm \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/star-pipeline /usr/local/bin/star-pipeline
WORKDIR /work
ENTRYPOINT ["star-pipeline"]
