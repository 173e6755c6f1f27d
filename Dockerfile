# codedge on Debian 12 packages only. Multi-stage: the build stage has the
# compilers and -dev packages, the runtime image only the shared libraries
# and the three binaries. Nothing is architecture-specific (no -march), so
# the same file builds on arm64 (Raspberry Pi OS 64-bit, Debian 12):
#   docker build -t codedge .
#   docker buildx build --platform linux/arm64 -t codedge:arm64 .
FROM debian:12 AS build
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      build-essential cmake make pkg-config libeigen3-dev libopenblas-dev libabsl-dev libspdlog-dev libfmt-dev \
      protobuf-compiler libprotobuf-dev protobuf-compiler-grpc libgrpc++-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
COPY cmake cmake
COPY common common
COPY codes codes
COPY cnn cnn
COPY proto proto
COPY server server
COPY worker worker
COPY bench bench
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release -DCODEDGE_BUILD_TESTS=OFF \
    && cmake --build /build -j"$(nproc)" --target edge-server edge-worker edge-bench \
    && install -m 0755 /build/server/edge-server /build/worker/edge-worker /build/bench/edge-bench /usr/local/bin/

FROM debian:12-slim
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      libgrpc++1.51 libprotobuf32 libopenblas0-pthread libabsl20220623 libspdlog1.10 libfmt9 gnuplot-nox \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --no-create-home codedge
COPY --from=build /usr/local/bin/edge-server /usr/local/bin/edge-worker /usr/local/bin/edge-bench /usr/local/bin/
USER codedge
EXPOSE 50051
# Mutual TLS by default: mount a directory with ca.pem, server.pem and
# server.key (scripts/make-dev-certs.sh) at /certs, or override the command
# (docker-compose.yml runs plaintext on its private network).
CMD ["edge-server", "--listen=0.0.0.0:50051", "--tls_cert=/certs/server.pem", "--tls_key=/certs/server.key", "--tls_client_ca=/certs/ca.pem"]
