"""A stand-in server process for lifecycle tests: `fake_server.py MODE PORT`.

MODE ok: serve /health (200) and spawn a grandchild that sleeps, to check whole-tree stops.
MODE die: print a recognisable log and exit 3 while "starting".
MODE hang: never answer /health.
MODE stubborn: like ok, but the server and its grandchild ignore SIGTERM (vLLM under load).
"""

import http.server
import signal
import subprocess
import sys
import time

mode, port = sys.argv[1], int(sys.argv[2])
print("fake server starting", flush=True)
if mode == "die":
    for i in range(40):
        print(f"log line {i}", flush=True)
    print("FATAL: model directory not found", flush=True)
    sys.exit(3)
if mode == "hang":
    time.sleep(3600)


class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/health" else 404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


sleeper = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(3600)"
if mode == "stubborn":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
else:
    sleeper = "import time; time.sleep(3600)"
child = subprocess.Popen([sys.executable, "-c", sleeper])
print(f"grandchild {child.pid}", flush=True)
http.server.HTTPServer(("127.0.0.1", port), Health).serve_forever()
