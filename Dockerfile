# The operator's image: two static binaries (the operator and the kubectl plugin), CA certificates, the
# IANA time-zone database and a non-root user, on an empty base. Two ways build the same image:
#   - with a registry at hand: `docker build .` or `podman build .` (this file);
#   - with no container engine or registry: `scripts/image.sh` (Debian's buildah), as the test suite does.
# Both lay down the layer that scripts/image-rootfs.sh makes; tests/e2e/image.rs builds this file's last
# stage from the script's layer and checks that the files and the configuration are the same.
FROM docker.io/library/rust:1-bookworm AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends musl-tools ca-certificates tzdata \
    && rm -rf /var/lib/apt/lists/* \
    && rustup target add x86_64-unknown-linux-musl
WORKDIR /src
COPY . .
ARG SOURCE_DATE_EPOCH=0
RUN cargo build --profile image --locked --target x86_64-unknown-linux-musl \
        --bin ob-backup-operator --bin kubectl-obbackup \
    && scripts/image-rootfs.sh target/x86_64-unknown-linux-musl/image /rootfs

FROM scratch
ARG VERSION=0.1.0
ARG REVISION=unknown
COPY --from=build /rootfs/ /
LABEL org.opencontainers.image.title="ob-backup-operator" \
      org.opencontainers.image.description="Kubernetes operator for OceanBase backup and recovery" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="https://github.com/ob-backup-operator/ob-backup-operator" \
      org.opencontainers.image.licenses="Apache-2.0"
# mimalloc, the operator's heap, commits memory as it is used and returns what is freed at once
# (docs/contributing/benchmarks.md): without these it held about 27 MiB more at 10 000 tasks.
ENV MIMALLOC_EAGER_COMMIT=0 MIMALLOC_ARENA_EAGER_COMMIT=0 MIMALLOC_PURGE_DELAY=0
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/ob-backup-operator"]
CMD ["run"]
