"""Production: HTTP -> Redis streams -> workers -> PostgreSQL, exactly once.
Real PostgreSQL and Redis on loopback in a temp folder. Kill -9 of a worker
mid-batch and of serve mid-ingest, PostgreSQL restarted under load: no
acknowledged event is lost, none is counted twice (raw table or rollups).
Route events take their own stream, {ns}:route_analytics:stream, and model
lifecycle events theirs, {ns}:model_usage_events:stream (a flood of them runs
through the kill -9 too)."""
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone

from harness import Server, check, get, post
from services import Postgres, Redis

BINARY = sys.argv[1]
MODELS = ["sdxl_base_1.0", "flux1_dev", "sd15_pruned"]
NOW = datetime.now(timezone.utc)
WINDOW = (f"start={(NOW - timedelta(hours=30)).strftime('%Y-%m-%dT%H:00:00Z')}"
          f"&end={(NOW + timedelta(hours=2)).strftime('%Y-%m-%dT%H:00:00Z')}")


def batch(n):
    lines = []
    for _ in range(n):
        ts = (datetime.now(timezone.utc) - timedelta(minutes=random.randint(0, 600))).isoformat()
        e = {"event_id": str(uuid.uuid4()), "generation_id": str(uuid.uuid4()),
             "user_id": str(uuid.UUID(int=random.randint(1, 50))), "timestamp": ts,
             "model_checkpoint": random.choice(MODELS)}
        if random.random() < 0.5:
            e["event_type"] = "request"
        else:
            e.update(event_type="completion", success=random.random() < 0.9,
                     duration_ms=random.randint(500, 60000), generation_time_ms=400)
        lines.append(json.dumps(e))
    return "\n".join(lines) + "\n"


MODEL_TYPES = ["model_load", "model_unload", "model_download", "model_health_check"]


def model_batch(n):
    lines = []
    for _ in range(n):
        ts = (datetime.now(timezone.utc) - timedelta(minutes=random.randint(0, 600))).isoformat()
        e = {"event_id": str(uuid.uuid4()), "event_type": random.choice(MODEL_TYPES),
             "model_id": random.choice(MODELS), "timestamp": ts, "worker_id": f"gpu-{random.randint(0, 3)}",
             "duration_ms": random.randint(100, 30000), "success": random.random() < 0.95}
        lines.append(json.dumps(e))
    return "\n".join(lines) + "\n"


class Flood:
    """Posts batches from several threads; counts what was acknowledged."""

    def __init__(self, url_fn, threads=4, size=100, path="/api/v1/events/generation", make=batch):
        self.url_fn, self.size, self.path, self.make = url_fn, size, path, make
        self.acknowledged = 0
        self.refused = 0
        self.lock = threading.Lock()
        self.stop_event = threading.Event()
        self.threads = [threading.Thread(target=self.run) for _ in range(threads)]
        for t in self.threads:
            t.start()

    def run(self):
        while not self.stop_event.is_set():
            try:
                status, answer = post(self.url_fn() + self.path, self.make(self.size), timeout=10)
            except OSError:
                time.sleep(0.05)
                continue
            with self.lock:
                if status == 200:
                    self.acknowledged += answer["accepted"]
                else:
                    self.refused += 1

    def wait_for(self, count, timeout=120):
        deadline = time.time() + timeout
        while self.acknowledged < count and time.time() < deadline:
            time.sleep(0.02)

    def stop(self):
        self.stop_event.set()
        for t in self.threads:
            t.join()
        return self.acknowledged


def start_worker(pg, redis, config):
    return subprocess.Popen([BINARY, "worker", "--redis", redis.url, "--postgres", pg.url,
                             "--config", config], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def drained(server, timeout=120):
    deadline = time.time() + timeout
    status = None
    while time.time() < deadline:
        status = get(server.url + "/api/v1/analytics/pipeline")
        if all(s["length"] == 0 and s["pending"] == 0 for s in status["streams"]):
            return status
        time.sleep(0.2)
    raise AssertionError(f"pipeline did not drain: {status}")


def check_exact(pg, server, acknowledged, what):
    raw_total, raw_distinct, raw_requests = [int(x) for x in pg.psql(
        "SELECT COUNT(*), COUNT(DISTINCT event_id), COUNT(*) FILTER (WHERE event_type = 'request') "
        "FROM generation_events").strip().split("|")]
    check(raw_total == raw_distinct, f"{what}: no event stored twice ({raw_total} rows)")
    check(raw_total >= acknowledged, f"{what}: {raw_total} stored >= {acknowledged} acknowledged")
    o = get(f"{server.url}/api/v1/analytics/generation/overview?{WINDOW}")
    check(o["total_requests"] == raw_requests,
          f"{what}: rollups count each event once ({o['total_requests']} == {raw_requests})")
    hourly = int(pg.psql("SELECT COALESCE(SUM(total_requests), 0) FROM generation_metrics_hourly").strip())
    check(hourly == raw_requests, f"{what}: generation_metrics_hourly agrees with the raw table")
    named = int(pg.psql("SELECT COUNT(*) FROM generation_events WHERE event_type = 'request' "
                        "AND model_checkpoint IS NOT NULL").strip())
    uses = int(pg.psql("SELECT COALESCE(SUM(uses), 0) FROM model_usage_hourly").strip())
    check(uses == named, f"{what}: model_usage_hourly counts each request once ({uses} == {named})")


def check_models_exact(pg, acknowledged, what):
    total, distinct = [int(x) for x in pg.psql(
        "SELECT COUNT(*), COUNT(DISTINCT event_id) FROM model_usage_events").strip().split("|")]
    check(total == distinct, f"{what}: no model event stored twice ({total} rows)")
    check(total >= acknowledged, f"{what}: {total} model events stored >= {acknowledged} acknowledged")
    rolled = int(pg.psql("SELECT COALESCE(SUM(loads + unloads + downloads + health_checks), 0) "
                         "FROM model_lifecycle_hourly").strip())
    check(rolled == total, f"{what}: model_lifecycle_hourly counts each model event once ({rolled} == {total})")


def route_hits(n):
    now = datetime.now(timezone.utc).isoformat()
    return "".join(json.dumps({
        "event_id": str(uuid.uuid4()), "route": f"/api/v1/content/{1000 + i}?page=2&sort=created_at",
        "method": "GET", "user_id": str(uuid.UUID(int=i + 1)), "timestamp": now,
        "duration_ms": 100 + i, "status_code": 200 if i % 4 else 500, "db_query_count": 3}) + "\n"
        for i in range(n))


def route_counts(pg):
    raw = pg.psql("SELECT COUNT(*), COUNT(DISTINCT event_id) FROM route_analytics").strip()
    hourly = pg.psql("SELECT COALESCE(SUM(total_requests), 0) FROM route_analytics_hourly").strip()
    return raw, int(hourly)


def check_routes(pg, redis, server):
    """Route events go HTTP -> {ns}:route_analytics:stream -> workers -> PostgreSQL."""
    key, dead_key = "genalytics:route_analytics:stream", "genalytics:route_analytics:dead"
    body = route_hits(20)
    status, answer = post(server.url + "/api/v1/events/route", body)
    check(status == 200 and answer["accepted"] == 20, f"route events acknowledged ({status} {answer})")
    check(redis.cli("EXISTS", key).strip() == "1", f"the route stream {key} exists in Redis")
    check("genalytics" in redis.cli("XINFO", "GROUPS", key), "the workers' group reads the route stream")
    # Apps may XADD route hits directly (seed 002's fields, flat); a bad one is dead-lettered.
    redis.cli("XADD", key, "*", "route", "/api/v1/search?q=cats&page=3", "method", "get",
              "duration_ms", "250", "status_code", "200", "query_params", json.dumps({"page_size": 20}))
    redis.cli("XADD", key, "*", "route", "no-slash", "method", "GET", "duration_ms", "1",
              "status_code", "200")
    status = drained(server)
    names = [s["name"] for s in status["streams"]]
    check(names == ["generation_events", "route_analytics", "model_usage_events"],
          f"pipeline status lists every stream: {names}")
    routes = status["streams"][1]
    check(routes["key"] == key and routes["dead_letter_key"] == dead_key and routes["dead_letters"] == 1,
          f"route stream status: {routes}")
    dead = redis.cli("XRANGE", dead_key, "-", "+")
    check("no-slash" in dead and "/route" in dead, "the bad route entry is dead-lettered with its reason")
    raw, hourly = route_counts(pg)
    check(raw == "21|21" and hourly == 21, f"route events stored once via the stream ({raw}, hourly {hourly})")
    content = pg.psql("SELECT SUM(total_requests), SUM(server_errors) FROM route_analytics_hourly "
                      "WHERE route = '/api/v1/content/{id}'").strip()
    check(content == "20|5", f"route_analytics_hourly rolls them up ({content})")
    # A client retrying the same body: acknowledged again, stored once.
    status, _ = post(server.url + "/api/v1/events/route", body)
    check(status == 200, "a retried route body is acknowledged")
    drained(server)
    check(route_counts(pg) == (raw, hourly), "a retried route body changes nothing")


def main():
    pg, redis = Postgres(), Redis()
    procs = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            config = os.path.join(tmp, "config.json")
            with open(config, "w") as f:
                json.dump({"production": {"claim_idle_ms": 1500}}, f)
            r = subprocess.run([BINARY, "migrate", "--postgres", pg.url], capture_output=True, text=True)
            check(r.returncode == 0, f"migrate: {r.stderr.strip()}")
            r = subprocess.run([BINARY, "migrate", "--postgres", pg.url], capture_output=True, text=True)
            check(r.returncode == 0, "migrate again is a no-op")

            args = ["--redis", redis.url, "--postgres", pg.url, "--no-worker", "--config", config]
            server = Server(BINARY, tmp, extra_args=args).start()
            procs.append(server)
            workers = [start_worker(pg, redis, config), start_worker(pg, redis, config)]
            procs.extend(workers)

            # Freshness: an acknowledged event is queryable within 2 s.
            eid = str(uuid.uuid4())
            body = json.dumps({"event_id": eid, "event_type": "request", "generation_id": str(uuid.uuid4())})
            status, _ = post(server.url + "/api/v1/events/generation", body, "application/json")
            t0 = time.time()
            while get(f"{server.url}/api/v1/analytics/generation/overview?{WINDOW}")["total_requests"] < 1:
                if time.time() - t0 > 5:
                    break
                time.sleep(0.05)
            check(status == 200 and time.time() - t0 < 2.0, f"fresh in {time.time() - t0:.2f} s (< 2 s)")

            # kill -9 a worker mid-flood, and serve mid-ingest (model events too).
            flood = Flood(lambda: server.url)
            model_flood = Flood(lambda: server.url, threads=1, size=50, path="/api/v1/events/model",
                                make=model_batch)
            flood.wait_for(3000)
            workers[0].send_signal(signal.SIGKILL)
            workers[0].wait()
            flood.wait_for(6000)
            server.kill9()
            server = Server(BINARY, tmp, extra_args=args).start()
            procs.append(server)
            flood.wait_for(flood.acknowledged + 3000)
            acknowledged = flood.stop() + 1
            models_acknowledged = model_flood.stop()
            check(flood.acknowledged > 6000, f"{flood.acknowledged} events acknowledged in the flood")
            check(models_acknowledged > 500, f"{models_acknowledged} model events acknowledged in the flood")
            status = drained(server)
            check(status["store"]["last_transfer_at"] is not None, "pipeline status reports the last transfer")
            check_exact(pg, server, acknowledged, "after kill -9 of a worker and of serve")
            check_models_exact(pg, models_acknowledged, "after kill -9 of a worker and of serve")

            # PostgreSQL restarted under load: ingest goes on, the stream drains afterwards.
            before = acknowledged
            flood = Flood(lambda: server.url)
            flood.wait_for(2000)
            pg.stop()
            during = flood.acknowledged
            flood.wait_for(during + 2000, timeout=60)
            check(flood.acknowledged >= during + 2000, "ingest goes on while PostgreSQL is down")
            pg.start()
            flood.wait_for(flood.acknowledged + 1000)
            acknowledged = before + flood.stop()
            drained(server)
            check_exact(pg, server, acknowledged, "after a PostgreSQL restart under load")

            # Redis down: ingest answers 503, never a false acknowledgement.
            redis.stop()
            status, answer = post(server.url + "/api/v1/events/generation", batch(5))
            check(status == 503, f"Redis down: ingest answers 503 ({status} {answer})")
            status, answer = post(server.url + "/api/v1/events/route", route_hits(2))
            check(status == 503, f"Redis down: route ingest answers 503 ({status} {answer})")
            redis.start()
            status, _ = post(server.url + "/api/v1/events/generation", batch(5))
            check(status == 200, "Redis back: ingest answers 200")
            acknowledged += 5

            # Apps may XADD directly (seed 000's flat form); bad entries go to the dead letters.
            key = "genalytics:generation_events:stream"
            redis.cli("XADD", key, "*", "event_type", "request", "generation_id", str(uuid.uuid4()),
                      "user_id", str(uuid.uuid4()), "timestamp", datetime.now(timezone.utc).isoformat(),
                      "generation_type", "standard")
            redis.cli("XADD", key, "*", "event_type", "completion", "generation_id", "not-a-uuid")
            redis.cli("XADD", key, "*", "json", json.dumps({"event_type": "request", "generation_id": str(uuid.uuid4())}))
            acknowledged += 2
            status = drained(server)
            check(status["streams"][0]["dead_letters"] == 1, "the bad entry is dead-lettered")
            dead = redis.cli("XRANGE", "genalytics:generation_events:dead", "-", "+")
            check("generation_id" in dead and "UUID" in dead, "the dead letter carries its reason")
            check_exact(pg, server, acknowledged, "after direct XADDs")

            check_routes(pg, redis, server)

            # The real-time hash of seed 000.
            live = redis.cli("HGETALL", "genalytics:generation_metrics:current").split()
            check("requests_1h" in live and "p95_duration_ms_1h" in live, f"real-time hash present: {live[:6]}")

            # The seed's model comparison SQL, verbatim, agrees with the API.
            rows = pg.psql("""
SELECT
    model_checkpoint,
    COUNT(*) FILTER (WHERE event_type = 'completion') as total_generations,
    COUNT(*) FILTER (WHERE event_type = 'completion' AND success = true) as successful,
    COUNT(*) FILTER (WHERE event_type = 'completion' AND success = false) as failed,
    (COUNT(*) FILTER (WHERE event_type = 'completion' AND success = true)::FLOAT /
     NULLIF(COUNT(*) FILTER (WHERE event_type = 'completion'), 0) * 100)::NUMERIC(5,2) as success_rate_pct,
    PERCENTILE_CONT(0.50) WITHIN GROUP (ORDER BY duration_ms)::INTEGER as p50_duration_ms,
    PERCENTILE_CONT(0.95) WITHIN GROUP (ORDER BY duration_ms)::INTEGER as p95_duration_ms,
    AVG(duration_ms)::INTEGER as avg_duration_ms
FROM generation_events
WHERE timestamp >= NOW() - INTERVAL '30 days'
    AND model_checkpoint IS NOT NULL
GROUP BY model_checkpoint
ORDER BY total_generations DESC;""").strip().splitlines()
            api = {m["model_checkpoint"]: m for m in get(server.url + "/api/v1/analytics/generation/models?days=30")["models"]}
            for row in rows:
                name, total, ok, failed, pct = row.split("|")[:5]
                m = api[name]
                check((m["total_generations"], m["successful_generations"], m["failed_generations"]) ==
                      (int(total), int(ok), int(failed)) and abs(m["success_rate_pct"] - float(pct)) < 0.006,
                      f"seed SQL and API agree on {name}: {total} generations, {pct}%")

            r = subprocess.run([BINARY, "retention", "--postgres", pg.url, "--days", "90"],
                               capture_output=True, text=True)
            check(r.returncode == 0 and "rollups kept" in r.stderr, f"retention: {r.stderr.strip()}")
            code = server.terminate()
            check(code == 0, "serve stops cleanly on SIGTERM")
            for w in workers[1:]:
                w.send_signal(signal.SIGTERM)
                check(w.wait(timeout=60) == 0, "worker stops cleanly on SIGTERM")
    finally:
        for p in procs:
            proc = getattr(p, "proc", p)
            if proc and proc.poll() is None:
                proc.kill()
                proc.wait()
        pg.close()
        redis.close()


if __name__ == "__main__":
    main()
