#!/bin/sh
# Tests of `meshcheck certs` as users run it: exit codes, messages, files.
# Usage: test_certs_cli.sh PATH/TO/meshcheck
# Exit 0 when every case passed, 1 otherwise, 77 (skipped) without a binary.
set -u

bin=${1:-}
if [ -z "$bin" ] || [ ! -x "$bin" ]; then
	echo "SKIP: give the meshcheck binary as the first argument"
	exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mccli-XXXXXX") || exit 1
server_pid=
cleanup() {
	if [ -n "$server_pid" ]; then
		kill "$server_pid" 2>/dev/null
		wait "$server_pid" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

failures=0
n=0

# run NAME EXPECTED_STATUS CMD...: runs CMD with stdout in $tmp/out, stderr in $tmp/err.
run() {
	name=$1
	want=$2
	shift 2
	n=$((n + 1))
	"$@" >"$tmp/out" 2>"$tmp/err"
	got=$?
	if [ "$got" -ne "$want" ]; then
		echo "FAIL $name: exit $got, expected $want"
		sed 's/^/  stdout: /' "$tmp/out" | head -20
		sed 's/^/  stderr: /' "$tmp/err" | head -20
		failures=$((failures + 1))
		return 1
	fi
	echo "ok   $name"
	return 0
}

# expect NAME FILE REGEX: the file (out or err) must match.
expect() {
	if ! grep -Eq -- "$3" "$tmp/$2"; then
		echo "FAIL $1: $2 does not match /$3/"
		sed "s/^/  $2: /" "$tmp/$2" | head -20
		failures=$((failures + 1))
	fi
}

mode() {
	stat -c %a "$1"
}

pki=$tmp/pki

# --- help and usage ---------------------------------------------------------
run "certs --help" 0 "$bin" certs --help
expect "certs --help" out "init"
for sub in init issue verify inspect; do
	run "certs $sub --help" 0 "$bin" certs "$sub" --help
	expect "certs $sub --help" out "usage: meshcheck certs $sub"
done
run "certs (no subcommand)" 2 "$bin" certs
run "certs bogus" 2 "$bin" certs bogus
run "init without --cluster" 2 "$bin" certs init --out "$pki"
run "init unknown option" 2 "$bin" certs init --out "$pki" --cluster c1 --frobnicate
expect "init unknown option" err "unknown option --frobnicate"
run "init bad key" 2 "$bin" certs init --out "$pki" --cluster c1 --key dsa
expect "init bad key" err "--key dsa"

# --- init -------------------------------------------------------------------
run "init" 0 "$bin" certs init --out "$pki" --cluster c1 --cluster c2 --key ec256 \
	--root-cn "EMCO Root CA" --root-org project-emco.io
expect "init" out "root-key.pem"
expect "init" out "EMCO Root CA"
for f in root-cert.pem c1/ca-cert.pem c1/root-cert.pem c1/cert-chain.pem c2/ca-cert.pem; do
	[ -f "$pki/$f" ] || { echo "FAIL init: $f missing"; failures=$((failures + 1)); }
done
for f in root-key.pem c1/ca-key.pem c2/ca-key.pem; do
	[ "$(mode "$pki/$f")" = 600 ] || { echo "FAIL init: $f mode $(mode "$pki/$f"), expected 600"; failures=$((failures + 1)); }
done
if grep -q "PRIVATE KEY" "$tmp/out" "$tmp/err"; then
	echo "FAIL init: key material printed"
	failures=$((failures + 1))
fi
run "init refuses to overwrite" 2 "$bin" certs init --out "$pki" --cluster c1 --key ec256
expect "init refuses to overwrite" err "refusing to overwrite"

# --- issue ------------------------------------------------------------------
run "issue" 0 "$bin" certs issue --ca "$pki/c1" --spiffe spiffe://cluster.local/ns/sample/sa/helloworld \
	--ttl 24h --key ec256 --out "$tmp/w1"
[ "$(mode "$tmp/w1/key.pem")" = 600 ] || { echo "FAIL issue: key.pem not 0600"; failures=$((failures + 1)); }
run "issue bad spiffe" 2 "$bin" certs issue --ca "$pki/c1" --spiffe spiffe://cluster.local/ns//sa/x \
	--out "$tmp/w2"
expect "issue bad spiffe" err "invalid SPIFFE ID"
run "issue bad ttl" 2 "$bin" certs issue --ca "$pki/c1" --spiffe spiffe://cluster.local/ns/a/sa/b \
	--ttl soon --out "$tmp/w2"
run "issue default key" 0 "$bin" certs issue --ca "$pki/c2" --spiffe spiffe://cluster.local/ns/a/sa/b \
	--ttl 1h --out "$tmp/w2"

# --- verify -----------------------------------------------------------------
run "verify good chain" 0 "$bin" certs verify --root "$pki/root-cert.pem" --chain "$tmp/w1/cert-chain.pem" \
	--expect-spiffe 'spiffe://cluster.local/ns/*/sa/*' --min-validity 12h
expect "verify good chain" out "PASS +chains_to_root"
expect "verify good chain" out "sha256"
expect "verify good chain" out "result: PASS"

run "verify --json" 0 "$bin" certs verify --root "$pki/root-cert.pem" --chain "$tmp/w1/cert-chain.pem" --json
expect "verify --json" out '"chains_to_root":[[:space:]]*true'
if command -v python3 >/dev/null 2>&1; then
	python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$tmp/out" ||
		{ echo "FAIL verify --json: not one JSON document"; failures=$((failures + 1)); }
fi

run "verify spiffe mismatch" 1 "$bin" certs verify --root "$pki/root-cert.pem" --chain "$tmp/w1/cert-chain.pem" \
	--expect-spiffe 'spiffe://cluster.local/ns/other/*'
expect "verify spiffe mismatch" out "FAIL +spiffe"
expect "verify spiffe mismatch" out "result: FAIL"

run "verify min-validity" 1 "$bin" certs verify --root "$pki/root-cert.pem" --chain "$tmp/w2/cert-chain.pem" \
	--min-validity 7d
expect "verify min-validity" out "FAIL +lifetime"

"$bin" certs init --out "$tmp/other" --cluster x --key ec256 >/dev/null 2>&1
run "verify foreign root" 1 "$bin" certs verify --root "$tmp/other/root-cert.pem" --chain "$tmp/w1/cert-chain.pem"
expect "verify foreign root" out "FAIL +chains_to_root"

# Bad PEM inputs: exit 2 with file and line.
: >"$tmp/empty.pem"
echo "not a certificate" >"$tmp/text.pem"
{ echo "# root"; head -n 4 "$pki/root-cert.pem"; } >"$tmp/trunc.pem"
sed '2s/^\(.....\)./\1!/' "$pki/root-cert.pem" >"$tmp/b64.pem"
run "verify empty root" 2 "$bin" certs verify --root "$tmp/empty.pem" --chain "$tmp/w1/cert-chain.pem"
expect "verify empty root" err "^meshcheck certs verify: .*empty.pem:1: empty file"
run "verify not-PEM root" 2 "$bin" certs verify --root "$tmp/text.pem" --chain "$tmp/w1/cert-chain.pem"
expect "verify not-PEM root" err "text.pem:1: not PEM"
run "verify truncated root" 2 "$bin" certs verify --root "$tmp/trunc.pem" --chain "$tmp/w1/cert-chain.pem"
expect "verify truncated root" err "^meshcheck certs verify: .*trunc.pem:2: truncated PEM block \(BEGIN CERTIFICATE without END\)"
run "verify corrupt chain" 2 "$bin" certs verify --root "$pki/root-cert.pem" --chain "$tmp/b64.pem"
expect "verify corrupt chain" err "b64.pem:1: corrupt base64"
run "verify missing file" 2 "$bin" certs verify --root "$tmp/nope.pem" --chain "$tmp/w1/cert-chain.pem"
run "verify bad JSON error" 2 "$bin" certs verify --root "$tmp/trunc.pem" --chain "$tmp/w1/cert-chain.pem" --json
expect "verify bad JSON error" out '"error":'
run "verify both sources" 2 "$bin" certs verify --root "$pki/root-cert.pem" --chain "$tmp/w1/cert-chain.pem" \
	--connect 127.0.0.1:1
run "verify no source" 2 "$bin" certs verify --root "$pki/root-cert.pem"
run "verify bad connect" 2 "$bin" certs verify --root "$pki/root-cert.pem" --connect nohostport

# --connect: refused (port 1 on loopback: privileged, nothing listens there), then a server
# that demands a client certificate we do not have. The server picks its own free port and
# names it on its ACCEPT line, so no other test's sockets can collide with it.
run "verify --connect refused" 2 "$bin" certs verify --root "$pki/root-cert.pem" --connect "127.0.0.1:1" \
	--timeout 2s
expect "verify --connect refused" err "refused"
if command -v openssl >/dev/null 2>&1; then
	# Without -quiet s_server prints its ACCEPT line, and it stops at the end of its
	# input: give it a pipe this script holds open until the server is killed.
	mkfifo "$tmp/s_server.in"
	exec 9<>"$tmp/s_server.in"
	openssl s_server -accept "127.0.0.1:0" -cert "$tmp/w1/cert.pem" -key "$tmp/w1/key.pem" \
		-cert_chain "$pki/c1/cert-chain.pem" -CAfile "$pki/root-cert.pem" -Verify 2 -verify_return_error \
		>"$tmp/s_server.out" 2>&1 <"$tmp/s_server.in" &
	server_pid=$!
	port=
	i=0
	while [ $i -lt 100 ] && [ -z "$port" ] && kill -0 "$server_pid" 2>/dev/null; do
		port=$(sed -n 's/^ACCEPT 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$tmp/s_server.out")
		[ -n "$port" ] || sleep 0.1
		i=$((i + 1))
	done
	if [ -z "$port" ]; then
		echo "FAIL openssl s_server did not start:"; cat "$tmp/s_server.out"
		failures=$((failures + 1))
		port=1
	fi
	run "verify --connect (client cert demanded)" 0 "$bin" certs verify --root "$pki/root-cert.pem" \
		--connect "127.0.0.1:$port" --sni helloworld.sample --save-chain "$tmp/saved.pem" \
		--expect-spiffe 'spiffe://cluster.local/ns/sample/sa/helloworld'
	expect "verify --connect (client cert demanded)" out "3 certificate"
	[ "$(grep -c 'BEGIN CERTIFICATE' "$tmp/saved.pem" 2>/dev/null)" = 3 ] ||
		{ echo "FAIL --save-chain: expected 3 certificates in $tmp/saved.pem"; failures=$((failures + 1)); }
	run "verify --connect with client cert" 0 "$bin" certs verify --root "$pki/root-cert.pem" \
		--connect "127.0.0.1:$port" --cert "$tmp/w1/cert-chain.pem" --key "$tmp/w1/key.pem"
	kill "$server_pid" 2>/dev/null
	wait "$server_pid" 2>/dev/null
	server_pid=
	exec 9<&-
else
	echo "skip verify --connect against a server: no openssl command"
fi

# --- inspect ----------------------------------------------------------------
run "inspect" 0 "$bin" certs inspect "$tmp/w1/cert-chain.pem" "$pki/root-cert.pem"
expect "inspect" out "URI:spiffe://cluster.local/ns/sample/sa/helloworld"
expect "inspect" out "pathlen:0"
expect "inspect" out "EC 256"
if grep -Eq "PASS|FAIL" "$tmp/out"; then
	echo "FAIL inspect: printed a verdict"
	failures=$((failures + 1))
fi
run "inspect --json" 0 "$bin" certs inspect --json "$tmp/w1/cert-chain.pem"
expect "inspect --json" out '"sha256_fingerprint"'
run "inspect bad file" 2 "$bin" certs inspect "$tmp/w1/cert.pem" "$tmp/trunc.pem"
expect "inspect bad file" err "trunc.pem:2: truncated"
expect "inspect bad file" out "URI:spiffe"
run "inspect no file" 2 "$bin" certs inspect

echo "$n cases, $failures failure(s)"
[ "$failures" -eq 0 ]
