# A small static image of the operator: a musl build on a Rust image, then only the binary (and CA
# certificates) on an empty base, running as a non-root user. It cannot be built on the project's own
# machines (no container engine there); CI builds and tests the same binary with cargo.
FROM rust:1-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends musl-tools \
    && rm -rf /var/lib/apt/lists/* \
    && rustup target add x86_64-unknown-linux-musl
WORKDIR /src
COPY . .
RUN cargo build --release --locked --target x86_64-unknown-linux-musl --bin ob-backup-operator \
    && cp target/x86_64-unknown-linux-musl/release/ob-backup-operator /ob-backup-operator

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /ob-backup-operator /ob-backup-operator
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/ob-backup-operator"]
CMD ["run"]
