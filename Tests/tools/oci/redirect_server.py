#!/usr/bin/env python3
"""redirect_server.py: two HTTP servers on free ports of 127.0.0.1 (A and B), printed as
"A B" on the first line. On either: /echo answers with the Authorization header it received
("none" without one); /away redirects (302) to B's /echo; /here redirects to its own /echo;
/ftp redirects to an ftp:// URL whose query holds a signature ("X-Amz-Signature=topsecret").
For checking that a client drops credentials on a redirect to another origin, and keeps a
presigned URL's query out of its messages."""
import http.server, signal, sys, threading

signal.pthread_sigmask(signal.SIG_UNBLOCK, range(1, signal.NSIG))


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path in ("/away", "/here", "/ftp"):
            port = PORTS[1] if self.path == "/away" else self.server.server_address[1]
            self.send_response(302)
            if self.path == "/ftp":
                self.send_header("Location", "ftp://127.0.0.1/blob?X-Amz-Signature=topsecret")
            else:
                self.send_header("Location", f"http://127.0.0.1:{port}/echo")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = (self.headers.get("Authorization") or "none").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


servers = [http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler) for _ in range(2)]
PORTS = [s.server_address[1] for s in servers]
print(PORTS[0], PORTS[1], flush=True)
threading.Thread(target=servers[1].serve_forever, daemon=True).start()
servers[0].serve_forever()
