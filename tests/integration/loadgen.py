#!/usr/bin/env python3
"""Load for the reliability tests: many scrapers, slow readers, clients that
hang up mid-profile, and a /healthz prober that times every answer.

Usage: loadgen.py PORT SECONDS SCRAPERS SLOW DISCONNECTS [THINK]
Each scraper waits a random 0..THINK seconds (default 0) between requests.
Clients spread over the source addresses 127.0.0.2-127.0.0.9, as scrapers on
different hosts would (the daemon limits connections per address). Prints
one JSON object: status counts per client kind, bytes read and the /healthz
latency percentiles, in milliseconds.
"""
import json
import random
import socket
import sys
import threading
import time

PORT, SECONDS = int(sys.argv[1]), float(sys.argv[2])
SCRAPERS, SLOW, DISCONNECTS = (int(a) for a in sys.argv[3:6])
THINK = float(sys.argv[6]) if len(sys.argv) > 6 else 0.0
END = time.monotonic() + SECONDS
LOCK = threading.Lock()
STATS = {"scraper": {}, "slow": {}, "disconnect": {}, "healthz": {}}
HEALTHZ_MS = []
SLOW_BYTES = []

# What scrapers ask for: blocking profiles of 1-3 s, history, folded, metrics.
PATHS = [
    "/debug/pprof/profile?seconds=1",
    "/debug/pprof/profile?seconds=3",
    "/debug/pprof/offcpu?seconds=2",
    "/debug/pprof/wall?seconds=1",
    "/debug/pprof/blockio?seconds=1",
    "/debug/pprof/profile?last=1m",
    "/debug/pprof/wall?last=1m&format=folded",
    "/metrics",
    "/debug/pprof/",
]


def count(kind, what):
    with LOCK:
        STATS[kind][what] = STATS[kind].get(what, 0) + 1


def connect(i, rcvbuf=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.bind(("127.0.0.%d" % (2 + i % 8), 0))
    s.settimeout(30)
    s.connect(("127.0.0.1", PORT))
    return s


def request(s, path):
    s.sendall(("GET %s HTTP/1.1\r\nHost: sonde\r\nConnection: close\r\n\r\n" % path).encode())


def read_all(s, chunk=65536, pause=0.0):
    """Reads until EOF; returns (status code or 0, bytes read)."""
    data, total = b"", 0
    while True:
        b = s.recv(chunk)
        if not b:
            break
        total += len(b)
        if len(data) < 64:
            data += b[:64]
        if pause:
            time.sleep(pause)
    try:
        return int(data.split(b" ", 2)[1]), total
    except (IndexError, ValueError):
        return 0, total


def scraper(i):
    rng = random.Random(i)
    while time.monotonic() < END:
        path = rng.choice(PATHS)
        try:
            s = connect(i)
            request(s, path)
            code, _ = read_all(s)
            s.close()
            count("scraper", str(code))
        except OSError as e:
            count("scraper", type(e).__name__)
        if THINK:
            time.sleep(rng.uniform(0, THINK))


def slow_reader(i):
    # A tiny receive buffer and 512 bytes every 50 ms: the daemon's writes
    # would block on this client, and must not stall anyone else.
    while time.monotonic() < END:
        try:
            s = connect(i, rcvbuf=2048)
            request(s, "/debug/pprof/profile?seconds=1")
            code, n = read_all(s, chunk=512, pause=0.05)
            s.close()
            count("slow", str(code))
            with LOCK:
                SLOW_BYTES.append(n)
        except OSError as e:
            count("slow", type(e).__name__)


def disconnecter(i):
    # Asks for a 5 s profile and hangs up after half a second.
    while time.monotonic() < END:
        try:
            s = connect(i)
            request(s, "/debug/pprof/profile?seconds=5")
            time.sleep(0.5)
            s.close()
            count("disconnect", "hung_up")
        except OSError as e:
            count("disconnect", type(e).__name__)


def prober():
    while time.monotonic() < END:
        t0 = time.monotonic()
        try:
            s = connect(0)
            request(s, "/healthz")
            code, _ = read_all(s)
            s.close()
            count("healthz", str(code))
            with LOCK:
                HEALTHZ_MS.append((time.monotonic() - t0) * 1000)
        except OSError as e:
            count("healthz", type(e).__name__)
        time.sleep(0.02)


def pct(v, p):
    if not v:
        return -1
    v = sorted(v)
    return round(v[min(len(v) - 1, int(p / 100 * len(v)))], 1)


threads = [threading.Thread(target=scraper, args=(i,)) for i in range(SCRAPERS)]
threads += [threading.Thread(target=slow_reader, args=(i,)) for i in range(SLOW)]
threads += [threading.Thread(target=disconnecter, args=(i,)) for i in range(DISCONNECTS)]
threads.append(threading.Thread(target=prober))
for t in threads:
    t.start()
for t in threads:
    t.join()
print(json.dumps({
    "stats": STATS,
    "slow_bytes_min": min(SLOW_BYTES) if SLOW_BYTES else 0,
    "healthz_n": len(HEALTHZ_MS),
    "healthz_p50_ms": pct(HEALTHZ_MS, 50),
    "healthz_p99_ms": pct(HEALTHZ_MS, 99),
    "healthz_max_ms": pct(HEALTHZ_MS, 100),
}))
