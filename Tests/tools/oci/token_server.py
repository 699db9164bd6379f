#!/usr/bin/env python3
"""token_server.py DIR

A registry token service for tests (distribution's "token" auth): anyone who asks gets a JWT
granting pull and push on the scopes asked for, signed RS256 by DIR/key.pem with the
self-signed DIR/cert.pem in its x5c header (the registry's rootcertbundle). Listens on a free
port of 127.0.0.1, prints the port on its first line, and appends one line per token issued
to DIR/tokens.log (so a test can see the bearer flow really ran). Signing uses the openssl CLI.
With DIR/token.creds (USER:PASSWORD), only a request with those HTTP Basic credentials gets a
token (401 otherwise), and the log line starts with the user name.
"""
import base64, http.server, json, os, secrets, signal, subprocess, sys, time, urllib.parse

# A test runner may start this with signals blocked (its threads block them); stop must work.
signal.pthread_sigmask(signal.SIG_UNBLOCK, range(1, signal.NSIG))

DIR = sys.argv[1]


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def der_cert():
    pem = open(os.path.join(DIR, "cert.pem")).read()
    body = "".join(l for l in pem.splitlines() if l and "CERTIFICATE" not in l)
    return body  # x5c holds standard base64 DER


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        user = ""
        creds_file = os.path.join(DIR, "token.creds")
        if os.path.exists(creds_file):
            expected = "Basic " + base64.b64encode(open(creds_file, "rb").read()).decode()
            if self.headers.get("Authorization") != expected:
                body = json.dumps({"errors": [{"code": "UNAUTHORIZED", "message": "bad credentials"}]}).encode()
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="stamp-test-token"')
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            user = open(creds_file).read().split(":", 1)[0] + " "
        url = urllib.parse.urlparse(self.path)
        q = urllib.parse.parse_qs(url.query)
        access = []
        for scope in q.get("scope", []):
            kind, name, actions = scope.split(":")
            access.append({"type": kind, "name": name, "actions": ["pull", "push"]})
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": [der_cert()]}
        claims = {"iss": "stamp-test-issuer", "sub": "", "aud": q.get("service", [""])[0], "exp": now + 600,
                  "nbf": now - 60, "iat": now, "jti": secrets.token_hex(8), "access": access}
        signing = (b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())).encode()
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", os.path.join(DIR, "key.pem")], input=signing,
                             stdout=subprocess.PIPE, check=True).stdout
        token = signing.decode() + "." + b64(sig)
        with open(os.path.join(DIR, "tokens.log"), "a") as f:
            f.write(user + " ".join(q.get("scope", [])) + "\n")
        body = json.dumps({"token": token, "expires_in": 600}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
