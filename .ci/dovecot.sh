#!/usr/bin/env bash
# Throwaway Dovecot for bouncewatch's end-to-end IMAP tests.
#
# Installs nothing: the caller (.ci/run) installs Debian's dovecot-imapd,
# which also creates the dovecot and dovenull users. Must run as root.
#
#   .ci/dovecot.sh test            run the Dovecot tests (each test starts its
#                                  own server via internal/imapwatch/dovecottest)
#   .ci/dovecot.sh start [PORT]    start a server in the background for manual
#                                  use; prints shell variables to eval
#   .ci/dovecot.sh stop DIR        stop a server started with start
#
# The config written by "start" mirrors internal/imapwatch/dovecottest: plain
# IMAP on 127.0.0.1 only, passwd-file user office@example.jp with password
# dovecot-test-password, maildir in the temp dir, mail processes as nobody.
set -euo pipefail

die() { echo "dovecot.sh: $*" >&2; exit 1; }

check() {
	[ "$(id -u)" -eq 0 ] || die "must run as root"
	command -v dovecot >/dev/null || die "dovecot not installed (apt-get install -y dovecot-imapd)"
	command -v doveadm >/dev/null || die "doveadm not installed"
	id dovecot >/dev/null 2>&1 || die "user dovecot missing"
	id dovenull >/dev/null 2>&1 || die "user dovenull missing"
	id nobody >/dev/null 2>&1 || die "user nobody missing"
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
		echo $((20000 + RANDOM % 20000))
}

start() {
	check
	local port=${1:-$(free_port)}
	local dir
	dir=$(mktemp -d /tmp/bouncewatch-dovecot-XXXXXX)
	chmod 755 "$dir"
	mkdir -p "$dir/run" "$dir/state" "$dir/mail" "$dir/home"
	chown nobody:nogroup "$dir/mail" "$dir/home"
	local uid gid
	uid=$(id -u nobody)
	gid=$(id -g nobody)
	echo 'office@example.jp:{PLAIN}dovecot-test-password::::::' >"$dir/passwd"
	cat >"$dir/dovecot.conf" <<EOF
base_dir = $dir/run
state_dir = $dir/state
log_path = $dir/dovecot.log
instance_name = bouncewatch-dovecot-$port
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
mail_location = maildir:$dir/mail/%n
mail_fsync = never
mail_uid = $uid
mail_gid = $gid
first_valid_uid = 1
first_valid_gid = 1
default_internal_user = dovecot
default_login_user = dovenull
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $dir/passwd
}
userdb {
  driver = static
  args = uid=$uid gid=$gid home=$dir/home/%n
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $port
  }
  inet_listener imaps {
    port = 0
  }
}
namespace inbox {
  inbox = yes
  separator = /
}
EOF
	dovecot -c "$dir/dovecot.conf"
	for _ in $(seq 1 100); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "DOVECOT_DIR=$dir"
			echo "DOVECOT_ADDR=127.0.0.1:$port"
			echo "DOVECOT_CONF=$dir/dovecot.conf"
			echo "DOVECOT_USER=office@example.jp"
			echo "DOVECOT_PASSWORD=dovecot-test-password"
			return 0
		fi
		sleep 0.1
	done
	cat "$dir/dovecot.log" >&2 || true
	die "dovecot did not start on port $port"
}

stop() {
	local dir=${1:?usage: dovecot.sh stop DIR}
	[ -f "$dir/dovecot.conf" ] || die "$dir is not a dovecot.sh directory"
	doveadm -c "$dir/dovecot.conf" stop || true
	rm -rf "$dir"
}

cmd=${1:-test}
shift || true
case "$cmd" in
test)
	check
	cd "$(dirname "$0")/.."
	BOUNCEWATCH_DOVECOT=1 go test -count=1 "$@" ./internal/imapwatch/...
	;;
start) start "$@" ;;
stop) stop "$@" ;;
*) die "unknown command $cmd (test, start, stop)" ;;
esac
