"""SIGTERM drains: every request begun before it (a byte received) is read to
its end, answered and committed before `genalytics serve` exits. A 13 MB
NDJSON body is still being sent, slowly, when SIGTERM arrives, and so are 8
smaller ones in parallel: all 9 are answered 200 and every event is stored."""
import http.client
import json
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone

from harness import Server, check, get

BINARY = sys.argv[1]
HOUR = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
WINDOW = (f"start={(HOUR - timedelta(hours=2)).strftime('%Y-%m-%dT%H:%M:%SZ')}"
          f"&end={(HOUR + timedelta(hours=1)).strftime('%Y-%m-%dT%H:%M:%SZ')}")
LARGE_BYTES = 13 * 1000 * 1000
SMALL_BYTES = 1300 * 1000
SENDERS = 8
PAUSE_S = 0.05  # between two pieces of a body: each takes about 2 s to send


def ndjson(size):
    """Request events, one a line, until the body reaches `size` bytes."""
    ts = (HOUR - timedelta(minutes=30)).isoformat().replace("+00:00", "Z")
    lines, total = [], 0
    while total < size:
        line = json.dumps({"event_type": "request", "generation_id": str(uuid.uuid4()),
                           "event_id": str(uuid.uuid4()), "user_id": str(uuid.uuid4()),
                           "timestamp": ts, "model_checkpoint": "drain-test",
                           "attributes": {"padding": "x" * 40}}) + "\n"
        lines.append(line)
        total += len(line)
    return "".join(lines).encode(), len(lines)


class Sender(threading.Thread):
    """POSTs `body` in `pieces` pieces with a pause between them; sets
    `started` after the first piece and `halfway` at 40% of the body."""

    def __init__(self, port, body, pieces):
        super().__init__()
        self.port, self.body, self.pieces = port, body, pieces
        self.started, self.halfway = threading.Event(), threading.Event()
        self.status, self.answer, self.error = None, None, None

    def chunks(self):
        step = -(-len(self.body) // self.pieces)
        for i, at in enumerate(range(0, len(self.body), step)):
            if i > 0:
                time.sleep(PAUSE_S)
            yield self.body[at:at + step]
            self.started.set()
            if at + step >= len(self.body) * 0.4:
                self.halfway.set()

    def run(self):
        try:
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
            connection.request("POST", "/api/v1/events/generation", body=self.chunks(),
                               headers={"Content-Type": "application/x-ndjson",
                                        "Content-Length": str(len(self.body))})
            response = connection.getresponse()
            self.status, self.answer = response.status, json.loads(response.read())
        except OSError as error:  # reset, refused, closed early
            self.error = repr(error)
        finally:
            self.started.set()
            self.halfway.set()


def main():
    large, large_events = ndjson(LARGE_BYTES)
    smalls = [ndjson(SMALL_BYTES) for _ in range(SENDERS)]
    sent_events = large_events + sum(n for _, n in smalls)
    with tempfile.TemporaryDirectory() as data_dir:
        with Server(BINARY, data_dir) as server:
            senders = [Sender(server.port, large, 40)]
            senders += [Sender(server.port, body, 40) for body, _ in smalls]
            for sender in senders:
                sender.start()
            for sender in senders:
                sender.started.wait(60)
            senders[0].halfway.wait(60)
            in_flight = sum(1 for s in senders if s.status is None and s.error is None)
            signalled = time.monotonic()
            server.proc.send_signal(15)  # SIGTERM
            code = server.proc.wait(timeout=120)
            drain_s = time.monotonic() - signalled
            for sender in senders:
                sender.join(120)
            answered = [s for s in senders if s.status == 200]
            failed = [s for s in senders if s.status != 200]
            print(f"drain: SIGTERM with {in_flight} of {len(senders)} requests mid-body, "
                  f"the largest {len(large) / 1e6:.1f} MB; exit after {drain_s:.2f} s; "
                  f"{len(answered)} answered 200, {len(failed)} failed or reset "
                  f"({[s.error or s.status for s in failed]})")
            check(in_flight == len(senders), "every request was mid-body at SIGTERM")
            check(code == 0, f"SIGTERM exits cleanly ({code})")
            check(not failed, f"all {len(senders)} requests answered 200")
            accepted = sum(s.answer["accepted"] for s in answered)
            check(accepted == sent_events, f"{accepted} of {sent_events} events accepted")
        with Server(BINARY, data_dir) as server:
            stored = get(f"{server.url}/api/v1/analytics/generation/overview?{WINDOW}")[
                "total_requests"]
            check(stored == sent_events, f"after restart {stored} of {sent_events} events stored")


if __name__ == "__main__":
    main()
