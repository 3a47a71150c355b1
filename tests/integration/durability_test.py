"""A 2xx means durable: restart, kill -9 and SIGTERM under load lose nothing
that was acknowledged, and re-ingest changes nothing."""
import json
import os
import sys
import tempfile
import threading
import uuid
from datetime import datetime, timedelta, timezone

from harness import Server, check, get, post

BINARY = sys.argv[1]
HOUR = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
WINDOW = (f"start={(HOUR - timedelta(hours=2)).strftime('%Y-%m-%dT%H:%M:%SZ')}"
          f"&end={(HOUR + timedelta(hours=1)).strftime('%Y-%m-%dT%H:%M:%SZ')}")


def batch(n, event_type="request"):
    ts = (HOUR - timedelta(minutes=30)).isoformat().replace("+00:00", "Z")
    lines = []
    for _ in range(n):
        e = {"event_type": event_type, "generation_id": str(uuid.uuid4()),
             "event_id": str(uuid.uuid4()), "user_id": str(uuid.uuid4()), "timestamp": ts}
        lines.append(json.dumps(e))
    return "\n".join(lines) + "\n"


def overview(server):
    return get(f"{server.url}/api/v1/analytics/generation/overview?{WINDOW}")


def main():
    with tempfile.TemporaryDirectory() as data_dir:
        ingest = None
        body = batch(5000)

        # 1. Acknowledged, then kill -9: nothing lost.
        with Server(BINARY, data_dir) as server:
            ingest = f"{server.url}/api/v1/events/generation"
            status, answer = post(ingest, body)
            check(status == 200 and answer["accepted"] == 5000, f"5000 events acknowledged ({answer})")
            server.kill9()
        with Server(BINARY, data_dir) as server:
            ingest = f"{server.url}/api/v1/events/generation"
            check(overview(server)["total_requests"] == 5000, "all 5000 survive kill -9")
            # 2. Re-ingest is idempotent.
            status, answer = post(ingest, body)
            check(status == 200 and answer == {"accepted": 0, "duplicates": 5000, "rejected": [],
                                                       "rejected_count": 0},
                  f"re-ingest counts duplicates only ({answer})")
            check(overview(server)["total_requests"] == 5000, "re-ingest changes no count")

            # 3. kill -9 in the middle of a flood: every acknowledged event is there.
            acknowledged = run_flood(server, ingest, kill=lambda: server.kill9())
        with Server(BINARY, data_dir) as server:
            total = overview(server)["total_requests"]
            check(total >= 5000 + acknowledged,
                  f"kill -9 under load: {total - 5000} stored >= {acknowledged} acknowledged")
            before_sigterm = total
            ingest = f"{server.url}/api/v1/events/generation"
            # 4. SIGTERM drains: in-flight requests are answered and committed; exit code 0.
            codes = []
            acknowledged = run_flood(server, ingest, kill=lambda: codes.append(server.terminate()))
            check(codes == [0], f"SIGTERM exits cleanly ({codes})")
        with Server(BINARY, data_dir) as server:
            total = overview(server)["total_requests"]
            check(total >= before_sigterm + acknowledged,
                  f"SIGTERM under load: {total - before_sigterm} stored >= {acknowledged} acknowledged")


def run_flood(server, ingest, kill):
    """Posts batches from 4 threads, stops the server mid-flood, returns the
    number of events acknowledged with a 200."""
    acknowledged = [0]
    lock = threading.Lock()
    stop = threading.Event()

    def client():
        while not stop.is_set():
            try:
                status, answer = post(ingest, batch(200), timeout=10)
            except OSError:
                return
            if status == 200:
                with lock:
                    acknowledged[0] += answer["accepted"]

    threads = [threading.Thread(target=client) for _ in range(4)]
    for t in threads:
        t.start()
    while acknowledged[0] < 2000:
        stop.wait(0.01)
    kill()
    stop.set()
    for t in threads:
        t.join()
    check(acknowledged[0] >= 2000, f"{acknowledged[0]} events acknowledged during the flood")
    return acknowledged[0]


if __name__ == "__main__":
    main()
