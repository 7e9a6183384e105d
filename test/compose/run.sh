#!/usr/bin/env bash
# The docker compose test: runs docker-compose.yml (Redis, a coordinator and
# three workers) on a Docker engine of its own, with images built here, and
# runs TestCompose (test/compose/compose_test.go) against it. Needs root,
# dockerd (Debian's docker.io), docker-compose (1.29) and debootstrap; .ci/run
# installs them. Where the engine cannot start (no root, no kernel support)
# it says why and skips.
#
# Steps: start dockerd with its own data root, socket and no iptables
# changes; build bin/star-pipeline on the host; install the Brown corpus if
# missing (npm); make a Debian bookworm minbase with redis-server by
# debootstrap (cached in $STAR_CI_CACHE, default /var/cache/star-pipeline-ci)
# and import it; build the CI images (test/compose/Dockerfile.ci); run the
# test. On exit it removes the project's containers, volumes and network,
# the images, and stops the engine.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
export PATH="/usr/local/go/bin:/usr/sbin:/sbin:$PATH"
export GOEXPERIMENT=simd
started=$SECONDS

skip() {
	echo "SKIP test/compose: $*"
	exit 0
}
fail() {
	echo "FAIL test/compose: $*" >&2
	exit 1
}
# In CI the tools are installed by .ci/run: missing there is a failure.
missing() {
	if [ "${CI:-}" = true ]; then
		fail "$1 not found (apt-get install docker.io docker-compose debootstrap)"
	fi
	skip "$1 not found (apt-get install docker.io docker-compose debootstrap)"
}

[ "$(id -u)" = 0 ] || skip "starting a Docker engine needs root"
for tool in dockerd docker-compose debootstrap; do
	command -v "$tool" >/dev/null 2>&1 || missing "$tool"
done
# The client that comes with dockerd (Debian's docker.io), not a newer one
# earlier on PATH that may want a buildx plugin to build images.
DOCKER=$(dirname "$(command -v dockerd)")/../bin/docker
[ -x "$DOCKER" ] || DOCKER=$(command -v docker) || missing docker
DOCKER=$(readlink -f "$DOCKER")
export DOCKER DOCKER_BUILDKIT=0

work=$(mktemp -d /tmp/star-compose.XXXXXX)
export DOCKER_HOST="unix://$work/docker.sock"
images=(star-ci:local star-ci-redis:local star-ci-base:local)

cleanup() {
	local rc=$?
	set +e
	if [ -S "$work/docker.sock" ] && "$DOCKER" info >/dev/null 2>&1; then
		docker-compose -p starci -f docker-compose.yml -f test/compose/docker-compose.ci.yml \
			down -v --remove-orphans --timeout 5 >/dev/null 2>&1
		left=$("$DOCKER" ps -aq)
		[ -z "$left" ] || "$DOCKER" rm -f $left >/dev/null
		"$DOCKER" rmi -f "${images[@]}" >/dev/null 2>&1
		"$DOCKER" image prune -f >/dev/null 2>&1
		"$DOCKER" network prune -f >/dev/null 2>&1
		"$DOCKER" volume prune -f >/dev/null 2>&1
		echo "engine after cleanup: $("$DOCKER" ps -aq | wc -l) containers, $("$DOCKER" images -q | wc -l) images, $("$DOCKER" volume ls -q | wc -l) volumes, $("$DOCKER" network ls -q --filter type=custom | wc -l) custom networks"
	fi
	if [ -f "$work/dockerd.pid" ]; then
		pid=$(cat "$work/dockerd.pid")
		kill "$pid" 2>/dev/null
		for _ in $(seq 1 60); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.5
		done
		kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
	fi
	# Mounts the engine may have left under its data root.
	grep -o " $work/[^ ]*" /proc/mounts | sort -r | while read -r m; do umount -l "$m"; done
	rm -rf "$work"
	echo "test/compose: $((SECONDS - started))s in all"
	exit "$rc"
}
trap cleanup EXIT

# The engine: its own data root, exec root and socket; it leaves the host's
# iptables, IP forwarding and docker0 alone (the containers talk over the
# compose network's bridge only, and reach nothing outside it).
dockerd --data-root "$work/data" --exec-root "$work/exec" --pidfile "$work/dockerd.pid" \
	-H "$DOCKER_HOST" --iptables=false --ip-forward=false --bridge=none >"$work/dockerd.log" 2>&1 &
for _ in $(seq 1 60); do
	"$DOCKER" info >/dev/null 2>&1 && break
	kill -0 $! 2>/dev/null || break
	sleep 0.5
done
if ! "$DOCKER" info >/dev/null 2>&1; then
	tail -n 20 "$work/dockerd.log" >&2
	skip "the Docker engine did not start (its log is above)"
fi
echo "dockerd $("$DOCKER" version -f '{{.Server.Version}}') up ($(($SECONDS - started))s)"

make build >/dev/null
[ -f data/brown/.installed ] || bin/star-pipeline data brown

# The base image: Debian bookworm minbase with redis-server, from the
# Debian mirror apt uses here.
cache=${STAR_CI_CACHE:-/var/cache/star-pipeline-ci}
base=$cache/bookworm-minbase-redis.tar
if [ ! -s "$base" ]; then
	mirror=$( (cat /etc/apt/sources.list.d/*.sources 2>/dev/null || true) |
		awk '$1 == "URIs:" && $2 !~ /security/ { print $2; exit }')
	if [ -z "$mirror" ]; then
		mirror=$( (cat /etc/apt/sources.list 2>/dev/null || true) |
			awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) { print $i; exit } }')
	fi
	echo "debootstrap bookworm minbase with redis-server from ${mirror:-the default mirror}"
	debootstrap --variant=minbase --include=redis-server bookworm "$work/rootfs" $mirror >"$work/debootstrap.log" 2>&1 ||
		{ tail -n 20 "$work/debootstrap.log" >&2; fail "debootstrap failed"; }
	rm -rf "$work"/rootfs/var/cache/apt/archives/*.deb "$work"/rootfs/var/lib/apt/lists/* \
		"$work"/rootfs/usr/share/doc "$work"/rootfs/usr/share/man "$work"/rootfs/usr/share/locale
	mkdir -p "$cache"
	tar -C "$work/rootfs" -cf "$base.tmp" . && mv "$base.tmp" "$base"
	rm -rf "$work/rootfs"
fi
"$DOCKER" import "$base" star-ci-base:local >/dev/null
mkdir -p "$work/context"
cp bin/star-pipeline test/compose/Dockerfile.ci "$work/context/"
"$DOCKER" build -q --target redis -t star-ci-redis:local -f "$work/context/Dockerfile.ci" "$work/context" >/dev/null
"$DOCKER" build -q --target star -t star-ci:local -f "$work/context/Dockerfile.ci" "$work/context" >/dev/null
echo "images built ($((SECONDS - started))s)"

STAR_COMPOSE_TEST=1 STAR_CLI="$root/bin/star-pipeline" \
	go test -count=1 -v -timeout 20m -run '^TestCompose$' ./test/compose
