# Linli in a container: built with the Rust toolchain, run as the binary alone on a slim base.
# The workflows and the console are inside the binary; the database lives in /data.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin linli

FROM debian:bookworm-slim
RUN useradd --system --home-dir /data --create-home linli
COPY --from=build /src/target/release/linli /usr/local/bin/linli
USER linli
WORKDIR /data
ENV LINLI_BIND=0.0.0.0:8080 \
    LINLI_DATABASE_URL=sqlite:///data/linli.db \
    LINLI_LOG_FORMAT=json
EXPOSE 8080
VOLUME ["/data"]
ENTRYPOINT ["/usr/local/bin/linli"]
CMD ["serve"]
