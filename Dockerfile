# One image, three binaries: `seatline-api`, `seatline-worker` and the mock `seatline-provider`.
FROM rust:1.95-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends protobuf-compiler && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
ENV SQLX_OFFLINE=true
RUN cargo build --release --bins

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/seatline-api /src/target/release/seatline-worker \
     /src/target/release/seatline-provider /usr/local/bin/
ENV API_HOST=0.0.0.0 API_PORT=8080
EXPOSE 8080
CMD ["seatline-api"]
