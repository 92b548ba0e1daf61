# Shared by tools/sid.sh and tools/wheel-check.sh (sourced, not run): a
# Debian root made with debootstrap --variant=minbase, commands run in it
# with /proc, /sys and /dev mounted in a private mount namespace (unshare -m),
# so no mount outlives the command, and with a clean environment.

# root_can ROOT STAMP: 0 if this machine can make (or already has) the root.
root_can() {
    [ "$(id -u)" = 0 ] || return 1
    command -v unshare >/dev/null 2>&1 || return 1
    [ -f "$1/$2" ] && return 0
    command -v debootstrap >/dev/null 2>&1
}

# root_in ROOT CMD...: run CMD in ROOT (working directory /project if any).
root_in() {
    unshare -m --propagation private /bin/sh -c '
        R=$1; shift
        mount --rbind /proc "$R/proc" && mount --rbind /sys "$R/sys" &&
        mount --rbind /dev "$R/dev" || exit 97
        exec chroot "$R" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM="${TERM:-dumb}" \
            PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
            PIP_CERT=/etc/ssl/certs/ca-certificates.crt PIP_DISABLE_PIP_VERSION_CHECK=1 \
            PIP_DEFAULT_TIMEOUT=180 DEBIAN_FRONTEND=noninteractive \
            /bin/sh -c "cd /project 2>/dev/null || cd /; exec \"\$@\"" sh "$@"
    ' sh "$@"
}

# root_make ROOT SUITE MIRROR TAG PACKAGES...: debootstrap SUITE into ROOT
# (once), then install PACKAGES there. TAG prefixes messages. Returns 1 with
# a message on failure.
root_make() {
    local R=$1 suite=$2 mirror=$3 tag=$4
    shift 4
    [ "$(id -u)" = 0 ] || { echo "$tag: making the root needs root (debootstrap, chroot, mount)" >&2; return 1; }
    if [ ! -x "$R/usr/bin/apt-get" ]; then
        command -v debootstrap >/dev/null 2>&1 ||
            { echo "$tag: debootstrap is not installed (apt-get install debootstrap)" >&2; return 1; }
        echo "$tag: debootstrap --variant=minbase $suite $R" >&2
        rm -rf "$R.partial"
        if ! debootstrap --variant=minbase "$suite" "$R.partial" "$mirror" >"$R.debootstrap.log" 2>&1; then
            tail -20 "$R.debootstrap.log" >&2
            echo "$tag: debootstrap failed (log: $R.debootstrap.log)" >&2
            return 1
        fi
        mv "$R.partial" "$R"
    fi
    # A Release file can be older than its Valid-Until on a mirror snapshot.
    echo 'Acquire::Check-Valid-Until "false";' >"$R/etc/apt/apt.conf.d/99mp-no-valid-until"
    cp /etc/resolv.conf "$R/etc/resolv.conf"
    # The host's extra CA certificates (a proxy's), for pip inside the root.
    mkdir -p "$R/usr/local/share/ca-certificates"
    if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
        cp /usr/local/share/ca-certificates/*.crt "$R/usr/local/share/ca-certificates/"
    fi
    echo "$tag: installing $*" >&2
    root_in "$R" sh -c "apt-get update -qq && apt-get install -y -qq --no-install-recommends $* >/dev/null && update-ca-certificates >/dev/null" ||
        { echo "$tag: apt-get in the root failed" >&2; return 1; }
}
