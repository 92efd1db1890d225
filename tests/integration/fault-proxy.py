#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A fault-injecting HTTP proxy for registry tests (loopback only, stdlib only).

Forwards GET/HEAD to an upstream registry and, per blob digest, can:
  --cut HEX:BYTES     first request for the blob: send the headers, BYTES body bytes, then close
  --status HEX:CODE:N first N requests for the blob answer CODE (429 carries Retry-After: 1)
  --corrupt HEX       flip one byte of the blob body, every time
  --truncate-always HEX:BYTES  every request: send BYTES bytes, then close
Every request is logged to --log as "METHOD PATH RANGE STATUS".
"""
import argparse
import http.client
import http.server
import threading

ARGS = None
LOCK = threading.Lock()
SEEN = {}


def count(key):
    with LOCK:
        SEEN[key] = SEEN.get(key, 0) + 1
        return SEEN[key]


def log(line):
    with LOCK, open(ARGS.log, "a") as f:
        f.write(line + "\n")


def rule_for(rules, path):
    for hexd, value in rules.items():
        if path.endswith("/blobs/sha256:" + hexd):
            return hexd, value
    return None, None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_HEAD(self):
        self.forward(head=True)

    def do_GET(self):
        self.forward(head=False)

    def forward(self, head):
        rng = self.headers.get("Range", "-")
        hexd, status_rule = rule_for(ARGS.status_rules, self.path)
        if status_rule:
            code, n = status_rule
            if count(("status", hexd)) <= n:
                log(f"{self.command} {self.path} {rng} {code}")
                body = b'{"errors":[{"code":"INJECTED","message":"fault proxy"}]}'
                self.send_response(code)
                if code == 429:
                    self.send_header("Retry-After", "1")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
        up = http.client.HTTPConnection(ARGS.upstream_host, ARGS.upstream_port, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() in
                   ("accept", "authorization", "range", "user-agent")}
        up.request(self.command, self.path, headers=headers)
        resp = up.getresponse()
        log(f"{self.command} {self.path} {rng} {resp.status}")
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("connection", "transfer-encoding", "keep-alive"):
                self.send_header(k, v)
        self.send_header("Connection", "close")
        self.end_headers()
        if head:
            return
        limit = None
        cut_hex, cut_bytes = rule_for(ARGS.cut_rules, self.path)
        if cut_hex and count(("cut", cut_hex)) == 1:
            limit = cut_bytes
        always_hex, always_bytes = rule_for(ARGS.truncate_rules, self.path)
        if always_hex:
            limit = always_bytes
        corrupt = rule_for({h: 1 for h in ARGS.corrupt}, self.path)[0] is not None
        sent = 0
        while True:
            chunk = resp.read(65536)
            if not chunk:
                break
            if corrupt and sent == 0 and resp.status in (200, 206):
                chunk = bytes([chunk[0] ^ 0xFF]) + chunk[1:]
            if limit is not None and sent + len(chunk) >= limit:
                self.wfile.write(chunk[: limit - sent])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(chunk)
            sent += len(chunk)
        self.close_connection = True


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--upstream", default="127.0.0.1:5000")
    p.add_argument("--log", required=True)
    p.add_argument("--cut", action="append", default=[])
    p.add_argument("--status", action="append", default=[])
    p.add_argument("--corrupt", action="append", default=[])
    p.add_argument("--truncate-always", action="append", default=[])
    ARGS = p.parse_args()
    ARGS.upstream_host, port = ARGS.upstream.rsplit(":", 1)
    ARGS.upstream_port = int(port)
    ARGS.cut_rules = {c.split(":")[0]: int(c.split(":")[1]) for c in ARGS.cut}
    ARGS.truncate_rules = {c.split(":")[0]: int(c.split(":")[1]) for c in ARGS.truncate_always}
    ARGS.status_rules = {s.split(":")[0]: (int(s.split(":")[1]), int(s.split(":")[2]))
                         for s in ARGS.status}
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", ARGS.port), Handler)
    srv.daemon_threads = True
    srv.serve_forever()


if __name__ == "__main__":
    main()
