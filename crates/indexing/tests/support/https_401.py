"""An https server on 127.0.0.1 for the clone tests. It logs every request it receives as one
JSON line {"host", "path", "authorization"} to the file named by argv[3], prints
"ready <port>" once it listens, and answers:
  /redirect/<rest>  302 to https://127.0.0.1:<port>/<rest> (another host name, same server)
  anything else     401 asking for Basic credentials, or 403 when credentials came.
Usage: https_401.py CERT KEY LOG
"""

import http.server
import json
import ssl
import sys

cert, key, log = sys.argv[1:4]


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.answer()

    def do_POST(self):
        self.answer()

    def answer(self):
        with open(log, "a") as f:
            f.write(json.dumps({
                "host": self.headers.get("Host", ""),
                "path": self.path,
                "authorization": self.headers.get("Authorization"),
            }) + "\n")
        if self.path.startswith("/redirect/"):
            port = self.server.server_address[1]
            self.send_response(302)
            self.send_header("Location", f"https://127.0.0.1:{port}/{self.path[len('/redirect/'):]}")
        elif self.headers.get("Authorization") is None:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
        else:
            self.send_response(403)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)
server.socket = context.wrap_socket(server.socket, server_side=True)
print(f"ready {server.server_address[1]}", flush=True)
server.serve_forever()
