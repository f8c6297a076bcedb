#!/usr/bin/env python3
"""A stand-in for a team's own HTTP service behind an `http_proxy` integration (the clinic
example, examples/clinic/api.yaml): it answers every request with what it received, and appends
each request (method, path, every value of each header) as one JSON line to a log, so scripts/clinic.sh can check
which calls reached it and the caller identity API Gateway's request parameters gave it.

    scripts/upstream.py PORT LOG
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    def answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        seen = {
            "method": self.command,
            "path": self.path,
            # Every value of each header, so a header sent twice shows as two.
            "headers": {k.lower(): self.headers.get_all(k) for k in set(self.headers.keys())},
            "body": body,
        }
        with open(LOG, "a", encoding="utf-8") as log:
            log.write(json.dumps(seen) + "\n")
        payload = json.dumps(seen).encode()
        self.send_response(201 if self.command == "POST" else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = answer

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: scripts/upstream.py PORT LOG")
    LOG = sys.argv[2]
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
