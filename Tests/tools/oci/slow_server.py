#!/usr/bin/env python3
"""slow_server.py: an HTTP server on a free port of 127.0.0.1, printed on the first line, that
never finishes a response. /steady sends 4 KiB every 0.5 s (8 KiB/s, fast enough for any
minimum rate) of a body it says is 1 GB long; every other path (a registry's /v2/...) drips
one byte every 0.9 s of a body it says is 100000 bytes long. For checking that a client
gives up on a transfer that is too slow, or that never ends, in one line."""
import http.server, signal, sys, time

signal.pthread_sigmask(signal.SIG_UNBLOCK, range(1, signal.NSIG))


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        steady = self.path == "/steady"
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(10**9 if steady else 100000))
        self.end_headers()
        try:
            while True:
                self.wfile.write(b"x" * 4096 if steady else b"x")
                self.wfile.flush()
                time.sleep(0.5 if steady else 0.9)
        except (BrokenPipeError, ConnectionResetError):
            pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
print(server.server_address[1], flush=True)
server.serve_forever()
