#!/bin/sh
# run-in-rootfs.sh - run a command from an image filesystem the way a
# container runtime would for the operator's pod: a private mount
# namespace, the image read-only, /proc, a minimal /dev, an in-memory
# /tmp (the Deployment's emptyDir), the ServiceAccount token directory
# and the PAM CA mounted read-only, and the command as UID 65532.
# Needs root (mounts and chroot). Used by tests/integration/test_image.c.
#
# Usage: run-in-rootfs.sh ROOTFS TOKEN_DIR PAMCA_DIR COMMAND [ARG...]
# KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are passed on.
set -eu
root=$1 tokens=$2 pamca=$3
shift 3
sa=var/run/secrets/kubernetes.io/serviceaccount
# mount points, as the runtime creates them in the container
mkdir -p "$root/proc" "$root/dev" "$root/$sa" "$root/etc/pam-ca"

exec unshare --mount --propagation private sh -eu -c '
	root=$1 tokens=$2 pamca=$3 sa=$4
	shift 4
	mount --bind "$root" "$root"
	mount -t proc proc "$root/proc"
	mount -t tmpfs -o size=64k,mode=755 tmpfs "$root/dev"
	for d in null zero random urandom; do
		touch "$root/dev/$d"
		mount --bind "/dev/$d" "$root/dev/$d"
	done
	mount -t tmpfs -o size=8m,mode=1777 tmpfs "$root/tmp"
	mount --bind -o ro "$tokens" "$root/$sa"
	mount --bind -o ro "$pamca" "$root/etc/pam-ca"
	mount -o remount,bind,ro "$root"
	exec env -i KUBERNETES_SERVICE_HOST="$KUBERNETES_SERVICE_HOST" \
		KUBERNETES_SERVICE_PORT="$KUBERNETES_SERVICE_PORT" \
		/usr/sbin/chroot --userspec=65532:65532 "$root" "$@"
' run-in-rootfs "$root" "$tokens" "$pamca" "$sa" "$@"
