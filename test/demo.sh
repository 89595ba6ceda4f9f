#!/bin/sh
# make demo: start osslocal with a data directory, mount its "demo" bucket at
# ./mnt, put sample content in through the mount and show it.
# make demo-stop: unmount and stop the server.
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
DATA="$ROOT/demo-data"
MNT="$ROOT/mnt"
PORT=${OSSLOCAL_PORT:-9000}
export OSSLOCAL_ACCESS_KEY_ID=demo-access-key
export OSSLOCAL_ACCESS_KEY_SECRET=demo-secret-key-not-for-production
export ALIBABA_CLOUD_ACCESS_KEY_ID=$OSSLOCAL_ACCESS_KEY_ID
export ALIBABA_CLOUD_ACCESS_KEY_SECRET=$OSSLOCAL_ACCESS_KEY_SECRET

stop() {
	if grep -qs " $MNT " /proc/self/mounts; then bin/ossmount unmount "$MNT" || umount -l "$MNT" || true; fi
	if [ -f "$DATA/osslocal.pid" ]; then kill "$(cat "$DATA/osslocal.pid")" 2>/dev/null || true; rm -f "$DATA/osslocal.pid"; fi
}

if [ "${1:-}" = stop ]; then stop; echo "demo stopped"; exit 0; fi
stop
mkdir -p "$DATA" "$MNT"
bin/osslocal --listen "127.0.0.1:$PORT" --bucket demo --data-dir "$DATA/objects" >"$DATA/osslocal.log" 2>&1 &
echo $! >"$DATA/osslocal.pid"
i=0
until grep -q "listening on" "$DATA/osslocal.log"; do
	i=$((i + 1)); [ $i -gt 100 ] && { cat "$DATA/osslocal.log"; exit 1; }
	sleep 0.1
done
echo "== $(head -1 "$DATA/osslocal.log")"
bin/ossmount demo "$MNT" -o endpoint=http://127.0.0.1:$PORT,region=cn-hangzhou
echo "== mounted bucket demo at $MNT (daemon)"
if [ ! -e "$MNT/README.txt" ]; then
	echo "Hello from an OSS bucket mounted with ossmount." >"$MNT/README.txt"
	mkdir -p "$MNT/photos/2024" "$MNT/logs"
	head -c 3000000 /dev/urandom >"$MNT/photos/2024/beach.jpg"
	seq 1 1000 >"$MNT/logs/app.log"
	ln -s README.txt "$MNT/LINK-TO-README"
fi
echo "== ls -lR $MNT"
ls -lR "$MNT"
echo "== cat $MNT/README.txt"
cat "$MNT/README.txt"
echo "== the mount stays up; 'make demo-stop' unmounts it and stops osslocal"
