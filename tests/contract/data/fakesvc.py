#!/usr/bin/python3
"""A stand-in service for the OCF lifecycle matrix: a tiny HTTP API.

    fakesvc.py --config-file FILE [--port N] [--status CODE] [--workers N]
               [--ignore-term] [--exit-at-once]

It serves GET on 127.0.0.1:PORT with the given status, can fork workers (a
process tree to stop), ignore SIGTERM (to prove SIGKILL escalation) or exit
at once (a service that cannot start).  The port can also come from the
config file (a line ``port = N``).
"""

import argparse
import os
import signal
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--config-file", action="append", default=[])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--status", type=int, default=200)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--ignore-term", action="store_true")
    parser.add_argument("--exit-at-once", action="store_true")
    args = parser.parse_args()
    if args.exit_at_once:
        print("fakesvc: refusing to start", flush=True)
        return 3
    port = args.port
    for path in args.config_file:
        with open(path) as handle:
            for line in handle:
                key, _, value = line.partition("=")
                if key.strip() == "port":
                    port = int(value)
                if key.strip() == "status":
                    args.status = int(value)
    if args.ignore_term:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    status = args.status

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's naming
            self.send_response(status)
            self.end_headers()
            self.wfile.write(b'{"ok": true}')

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", port), Handler)
    parent = os.getpid()
    for _ in range(args.workers):
        if os.fork() == 0:
            if args.ignore_term:
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
            while True:  # a worker lives as long as its parent
                if os.getppid() != parent:
                    os._exit(0)
                time.sleep(0.2)
    print(f"fakesvc: serving on {port}", flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
