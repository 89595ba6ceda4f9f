#!/bin/sh
# Installs the Debian packages the end-to-end tests need (fuse3 for
# fusermount3/mount.fuse3, attr for getfattr/setfattr) when they are missing.
set -u
need=""
command -v fusermount3 >/dev/null 2>&1 || need="$need fuse3"
command -v getfattr >/dev/null 2>&1 || need="$need attr"
[ -z "$need" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing$need; install them (apt-get install$need) or run as root" >&2
	exit 0
fi
echo "deps: installing$need"
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q $need >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q $need >/dev/null; } || {
	echo "deps: could not install$need" >&2; exit 1; }
