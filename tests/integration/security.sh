#!/usr/bin/env bash
# The HTTP front's defences, end to end with curl: bearer tokens (401 without one or with a
# wrong one, 200 with the right one, /healthz open), request-size and per-IP limits, HTTPS with a certificate made here
# (curl --cacert works, plain HTTP to the TLS port and TLS 1.1 do not), the warning when
# listening beyond loopback without them, and token or key files every user may read.
source "$(dirname "$0")/lib.bash"
require_bpf
command -v openssl >/dev/null || { echo "FAIL: openssl is missing; make test installs it"; exit 1; }
FAST=(--no-offcpu --no-blockio --frequency 49)

# start LABEL SCHEME ARGS...: runs sonde, sets PORT and URL from its "serving on" line.
start() {
	local label=$1 scheme=$2
	shift 2
	"$SONDE_BIN" "${FAST[@]}" "$@" 2>"$TMP/$label.log" &
	DAEMON_PID=$!
	PORT=
	for _ in $(seq 1 100); do
		PORT=$(sed -n "s#.*serving on $scheme://[^:]*:\([0-9]*\)/.*#\1#p" "$TMP/$label.log")
		[ -n "$PORT" ] && break
		kill -0 "$DAEMON_PID" 2>/dev/null || break
		sleep 0.1
	done
	[ -n "$PORT" ] || { cat "$TMP/$label.log"; echo "FAIL: $label: daemon did not start"; exit 1; }
	URL=$scheme://127.0.0.1:$PORT
}
code() { curl -s -o "$TMP/body" -D "$TMP/headers" -w '%{http_code}' "$@" || true; }

openssl rand -hex 32 >"$TMP/token"
chmod 0600 "$TMP/token"
TOKEN=$(cat "$TMP/token")

# --- Bearer token over plain HTTP on loopback. ---
start token http --listen 127.0.0.1:0 --auth-token-file "$TMP/token"
check "no token: 401" test "$(code "$URL/metrics")" = 401
check "401 carries WWW-Authenticate: Bearer" grep -qi '^WWW-Authenticate: Bearer realm="sonde"' "$TMP/headers"
check "401 body tells nothing else" grep -qx 'unauthorized: this server needs a bearer token' "$TMP/body"
check "wrong token: 401" test "$(code -H "Authorization: Bearer ${TOKEN%?}x" "$URL/metrics")" = 401
check "wrong token: invalid_token" grep -qi '^WWW-Authenticate: Bearer realm="sonde", error="invalid_token"' "$TMP/headers"
check "token as a query parameter is not accepted" test "$(code "$URL/metrics?access_token=$TOKEN")" = 401
check "right token: 200" test "$(code -H "Authorization: Bearer $TOKEN" "$URL/metrics")" = 200
check "profile without token: 401" test "$(code "$URL/debug/pprof/profile?seconds=1")" = 401
check "profile with token: 200" test "$(code -H "Authorization: Bearer $TOKEN" \
	"$URL/debug/pprof/profile?seconds=1")" = 200
cp "$TMP/body" "$TMP/cpu.pb.gz"
check "go tool pprof reads it" sh -c "go tool pprof -raw '$TMP/cpu.pb.gz' >/dev/null 2>&1"
check "/healthz needs no token" test "$(code "$URL/healthz")" = 200
check "401s counted" sh -c "curl -sf -H 'Authorization: Bearer $TOKEN' '$URL/metrics' | grep -q '^sonde_http_responses_total{code=\"401\"} [1-9]'"
check "no warning on loopback" test -z "$(grep warn "$TMP/token.log")"

# --- Limits: request size and connections per IP. ---
BIG=$(head -c 100000 /dev/zero | tr '\0' x)
rc=$(code -H "X-Big: $BIG" "$URL/healthz")
check "a 100 kB header is refused (HTTP $rc)" test "$rc" != 200
FDS=()
for _ in $(seq 1 64); do
	exec {fd}<>"/dev/tcp/127.0.0.1/$PORT"
	FDS+=("$fd")
done
rc=$(curl -s -m 5 -o /dev/null -w '%{http_code}' "$URL/healthz" || true)
check "the 65th connection from one address is refused (got $rc)" test "$rc" != 200
for fd in "${FDS[@]}"; do exec {fd}>&-; done
for _ in $(seq 1 50); do [ "$(code "$URL/healthz")" = 200 ] && break; sleep 0.1; done
check "connections are accepted again once the others close" test "$(code "$URL/healthz")" = 200
check "stops cleanly" stop_daemon

# --- HTTPS with a self-signed certificate for 127.0.0.1. ---
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
	-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
	-keyout "$TMP/key.pem" -out "$TMP/cert.pem" 2>/dev/null
chmod 0600 "$TMP/key.pem"
start tls https --listen 127.0.0.1:0 --tls-cert "$TMP/cert.pem" --tls-key "$TMP/key.pem" \
	--auth-token-file "$TMP/token"
check "curl --cacert: 200 over HTTPS" test "$(code --cacert "$TMP/cert.pem" "$URL/healthz")" = 200
check "HTTPS body" grep -qx ok "$TMP/body"
check "HTTPS profile with token: 200" test "$(code --cacert "$TMP/cert.pem" -H "Authorization: Bearer $TOKEN" \
	"$URL/debug/pprof/profile?seconds=1")" = 200
cp "$TMP/body" "$TMP/tls.pb.gz"
check "go tool pprof reads the HTTPS profile" sh -c "go tool pprof -raw '$TMP/tls.pb.gz' >/dev/null 2>&1"
check "HTTPS without the token: 401" test "$(code --cacert "$TMP/cert.pem" "$URL/metrics")" = 401
rc=0
curl -s -o /dev/null "$URL/healthz" || rc=$?
check "an unknown CA is refused by curl (exit $rc)" test "$rc" = 60
rc=0
curl -s -m 5 -o "$TMP/plain" "http://127.0.0.1:$PORT/healthz" || rc=$?
check "plain HTTP to the TLS port fails (curl exit $rc)" test "$rc" -ne 0
check "plain HTTP gets no answer" test ! -s "$TMP/plain" -o "$(cat "$TMP/plain" 2>/dev/null)" != ok
rc=0
curl -s -o /dev/null --cacert "$TMP/cert.pem" --tlsv1.1 --tls-max 1.1 "$URL/healthz" || rc=$?
check "TLS 1.1 is refused (curl exit $rc)" test "$rc" -ne 0
check "the daemon still serves" test "$(code --cacert "$TMP/cert.pem" "$URL/healthz")" = 200
check "stops cleanly" stop_daemon

# --- Beyond loopback: warned about what is missing. ---
start open http --listen 0.0.0.0:0
check "warns: no token" grep -q 'warn: listening beyond loopback without auth-token-file' "$TMP/open.log"
check "warns: no TLS" grep -q 'warn: listening beyond loopback without tls-cert/tls-key: profiles cross' "$TMP/open.log"
check "stops cleanly" stop_daemon
start guarded https --listen 0.0.0.0:0 --tls-cert "$TMP/cert.pem" --tls-key "$TMP/key.pem" \
	--auth-token-file "$TMP/token"
check "no warning with token and TLS" test -z "$(grep warn "$TMP/guarded.log")"
check "stops cleanly" stop_daemon

# --- Secrets every user may read, and a key that is not the certificate's. ---
expect_start_failure() { # expect_start_failure PATTERN ARGS...: exit 1 and one line
	local pattern=$1 rc=0
	shift
	"$SONDE_BIN" --listen 127.0.0.1:0 "$@" 2>"$TMP/err" || rc=$?
	check "refused: $(cat "$TMP/err")" test "$rc" = 1 -a "$(wc -l <"$TMP/err")" = 1
	check "says '$pattern'" grep -q -- "$pattern" "$TMP/err"
}
chmod 0644 "$TMP/token"
expect_start_failure "every user may read it" --auth-token-file "$TMP/token"
chmod 0600 "$TMP/token"
cp "$TMP/key.pem" "$TMP/open-key.pem"
chmod 0644 "$TMP/open-key.pem"
expect_start_failure "cannot read the TLS key .*every user may read it" \
	--tls-cert "$TMP/cert.pem" --tls-key "$TMP/open-key.pem"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
	-subj /CN=other -keyout "$TMP/other.key" -out "$TMP/other.crt" 2>/dev/null
chmod 0600 "$TMP/other.key"
expect_start_failure "not usable together" --tls-cert "$TMP/cert.pem" --tls-key "$TMP/other.key"

finish
