#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Install every Debian package that building libcontainer and running all its tests need.
# Run as root on Debian 12 (bookworm). Idempotent.
set -euo pipefail

BUILD_PKGS=(
    gcc clang meson ninja-build pkg-config clang-format
    libcurl4-openssl-dev libjansson-dev libssl-dev check
    libarchive-dev libisal-dev zlib1g-dev libzstd-dev libsquashfs-dev libseccomp-dev libfuse3-dev
    libyaml-dev
    libfuzzer-14-dev libclang-rt-14-dev libslurm-dev
)
# ../shared/registry (real OCI registry, image builder) and the integration tests
TEST_PKGS=(
    docker-registry skopeo umoci squashfs-tools squashfs-tools-ng zstd busybox-static
    debootstrap apache2-utils curl jq python3 openssl passwd util-linux
    squashfuse fuse3 isal time slurmctld slurmd slurm-client munge
    podman uidmap
)

export DEBIAN_FRONTEND=noninteractive
for i in 1 2 3; do
    apt-get update -qq && break
    sleep $((i * 5))
done
apt-get install -y -qq --no-install-recommends "${BUILD_PKGS[@]}" "${TEST_PKGS[@]}" >/dev/null
echo "install-deps: ok"
