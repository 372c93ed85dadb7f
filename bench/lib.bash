# Helpers the bench scripts source.

# daemon_port LOG PID: waits up to 10 s for the daemon PID to say where it serves in LOG,
# prints the port; prints the log and fails if it died or said nothing.
daemon_port() {
	local port
	for _ in $(seq 1 100); do
		port=$(sed -n 's#.*serving on http://127.0.0.1:\([0-9]*\)/.*#\1#p' "$1")
		[ -n "$port" ] && { echo "$port"; return 0; }
		kill -0 "$2" 2>/dev/null || break
		sleep 0.1
	done
	cat "$1" >&2
	return 1
}
