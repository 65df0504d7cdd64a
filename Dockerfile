# Convoy service image: `docker build -t convoy .`, then
# `docker run -e DATABASE_URL=… -e CONVOY_MASTER_KEY=… -e CONVOY_JWT_SECRET=… -p 8080:8080 convoy`.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p convoy

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin convoy
COPY --from=build /src/target/release/convoy /usr/local/bin/convoy
USER convoy
ENV CONVOY_BIND=0.0.0.0:8080 CONVOY_LOG_FORMAT=json
EXPOSE 8080
ENTRYPOINT ["convoy"]
CMD ["serve"]
