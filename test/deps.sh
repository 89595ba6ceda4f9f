#!/bin/sh
# Installs the Debian packages the end-to-end tests need when they are
# missing: fuse3 (fusermount3, mount.fuse3) and attr (getfattr, setfattr),
# and prometheus for promtool (TestMetricsCountTheIO checks a scrape with
# `promtool check metrics`; without it that check is skipped, saying why).
# The prometheus package also holds a server: it is installed without
# starting it, and its service is disabled, so nothing runs and nothing
# listens, now or after a reboot.
set -u
need=""
command -v fusermount3 >/dev/null 2>&1 || need="$need fuse3"
command -v getfattr >/dev/null 2>&1 || need="$need attr"
prom=""
command -v promtool >/dev/null 2>&1 || prom="prometheus"
[ -z "$need$prom" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing$need $prom; install them (apt-get install$need $prom) or run as root" >&2
	exit 0
fi
export DEBIAN_FRONTEND=noninteractive
install() {
	apt-get install -y -q --no-install-recommends "$@" >/dev/null 2>&1 ||
		{ apt-get update -q >/dev/null 2>&1 && apt-get install -y -q --no-install-recommends "$@" >/dev/null 2>&1; }
}
if [ -n "$need" ]; then
	echo "deps: installing$need"
	install $need || { echo "deps: could not install$need" >&2; exit 1; }
fi
if [ -n "$prom" ]; then
	echo "deps: installing prometheus (for promtool; its server is not started)"
	# invoke-rc.d and deb-systemd-invoke ask policy-rc.d whether a service
	# may start: 101 means no.
	policy=/usr/sbin/policy-rc.d
	made=""
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && made=1
	fi
	install prometheus || echo "deps: could not install prometheus; the promtool check will be skipped" >&2
	[ -n "$made" ] && rm -f "$policy"
	# Never start it at boot either (sysvinit links, systemd's wants link).
	update-rc.d prometheus disable >/dev/null 2>&1
	rm -f /etc/systemd/system/multi-user.target.wants/prometheus.service
	true
fi
