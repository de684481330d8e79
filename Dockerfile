# pam-operator container image. Built from Debian bookworm packages;
# the runtime image is only /manager, /pam-worker beside it, the shared
# libraries they load, the CA bundle and a passwd entry for UID 65532
# (laid out by scripts/image-rootfs, which the tests also run). Build
# from the repository root:
#
#   docker build --build-arg VERSION=$(git describe --always) \
#       -t REGISTRY/pam-operator:TAG .

FROM debian:bookworm-slim AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      gcc make libc6-dev binutils ca-certificates \
      libcurl4-openssl-dev libssl-dev libcjson-dev libsodium-dev \
      libnng-dev libyaml-dev libseccomp-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY GNUmakefile ./
COPY common common
COPY proto proto
COPY supervisor supervisor
COPY worker worker
COPY scripts/image-rootfs scripts/
ARG VERSION=dev
RUN make VERSION="$VERSION" build/bin/manager build/bin/pam-worker \
 && scripts/image-rootfs build/bin /rootfs

FROM scratch
COPY --from=build /rootfs/ /
USER 65532:65532
ENTRYPOINT ["/manager"]
