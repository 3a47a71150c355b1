"""Route analytics end to end on the embedded engine: ingest over HTTP,
cache-analysis JSON (pure JSON on stdout) equals the API, the table output,
the simulator, and the route endpoints."""
import json
import random
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone

from harness import Server, check, get, post

BINARY = sys.argv[1]


def events():
    rng = random.Random(5)
    now = datetime.now(timezone.utc)
    out = []
    for i in range(3000):
        t = now - timedelta(seconds=rng.randint(0, 47 * 3600))
        kind = rng.random()
        if kind < 0.5:
            route = f"/api/v1/content/unified?page={rng.randint(1, 4)}&page_size=10&sort=created_at"
            d = rng.randint(150, 450)
        elif kind < 0.8:
            route = f"/api/v1/content/{rng.randint(1, 999)}"
            d = rng.randint(50, 150)
        else:
            route = "/api/v1/tags/hierarchy"
            d = rng.randint(200, 800)
        out.append({"event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)), "route": route, "method": "GET", "timestamp": t.isoformat(),
                    "user_id": str(uuid.UUID(int=rng.randint(1, 30))), "duration_ms": d,
                    "status_code": 200 if rng.random() < 0.97 else 500,
                    "response_size_bytes": rng.randint(100, 9000), "db_query_count": rng.randint(0, 5)})
    return out


def main():
    with tempfile.TemporaryDirectory() as data:
        with Server(BINARY, data) as server:
            body = "\n".join(json.dumps(e) for e in events()) + "\n"
            status, answer = post(server.url + "/api/v1/events/route", body)
            check(status == 200 and answer["accepted"] == 3000, f"3000 route events ingested ({status})")
            status, again = post(server.url + "/api/v1/events/route", body)
            check(status == 200 and again["accepted"] == 0 and again["duplicates"] == 3000,
                  "re-ingest counts duplicates only")
            status, bad = post(server.url + "/api/v1/events/route",
                               json.dumps({"route": "nope", "method": "FETCH", "duration_ms": -1}),
                               "application/json")
            check(status == 400 and bad["rejected"][0]["errors"], f"bad route events rejected: {bad['rejected'][0]['errors'][:2]}")

            for relative in (False, True):
                mode = "relative" if relative else "absolute"
                args = [BINARY, "cache-analysis", "-n", "10", "-d", "2", "-f", "json", "--data-dir", data,
                        "--min-requests", "1", "--min-latency", "50"]
                if relative:
                    args.append("--relative")
                r = subprocess.run(args, capture_output=True, text=True)
                cli = json.loads(r.stdout)  # pure JSON on stdout
                api = get(f"{server.url}/api/v1/analytics/routes/cache-priorities?n=10&days=2&mode={mode}"
                          f"&min_requests=1&min_latency=50")
                # The CLI prints seed 002's bare array of rows; the API wraps it.
                check(cli == api["routes"] and api["mode"] == mode, f"{mode}: CLI JSON equals the API's rows")
                check(len(api["routes"]) >= 2, f"{mode}: {len(api['routes'])} routes ranked")
            top = api["routes"]
            check(any(r["route"] == "/api/v1/content/{id}" for r in top), "concrete ids are templated")
            unified = [r for r in top if r["route"] == "/api/v1/content/unified"]
            check(unified and unified[0]["query_params_normalized"] == {"page_size": "10", "sort": "created_at"},
                  "page is dropped from the normalised parameters")
            check(unified[0]["cache_keys"] == ["/api/v1/content/unified?page_size=10&sort=created_at"],
                  "cache keys list the first page")

            r = subprocess.run([BINARY, "cache-analysis", "-d", "2", "--data-dir", data, "--min-requests", "1",
                                "--min-latency", "50"], capture_output=True, text=True)
            lines = r.stdout.splitlines()
            check(r.returncode == 0 and lines[0].startswith("+--") and lines[2].startswith("+==")
                  and "| Rank |" in lines[1] and "Priority Score" in lines[1], "table output in the seed's grid style")
            check("recommended for caching" in r.stderr and "recommended" not in r.stdout, "headings go to stderr")

            r = subprocess.run([BINARY, "cache-analysis", "-d", "2", "--data-dir", data, "--relative",
                                "--simulate", "--ttl", "600", "-f", "json"], capture_output=True, text=True)
            sim = json.loads(r.stdout)
            check(sim["total"]["requests"] == 3000, "the simulator replays every hit of the window")
            check(0 < sim["total"]["hit_rate"] < 1, f"simulated hit rate {sim['total']['hit_rate']:.3f}")

            o = get(server.url + "/api/v1/analytics/routes/overview?days=2&order=latency")
            check(o["routes"][0]["p95_duration_ms"] >= o["routes"][-1]["p95_duration_ms"], "routes overview by latency")
            p = get(server.url + "/api/v1/analytics/routes/peak-hours?days=2")
            check(len(p["hours"]) == 24, "route peak hours")
            pat = get(server.url + "/api/v1/analytics/routes/patterns?days=2&route=/api/v1/content/unified")
            check(pat["patterns"][0]["query_params_normalized"] == {"page_size": "10", "sort": "created_at"},
                  "popular parameter patterns of a route")
            concrete_routes_are_looked_up_as_stored(server)
            numbers_print_as_people_read_them(server)
            templated_routes_get_concrete_cache_keys(server)


def concrete_routes_are_looked_up_as_stored(server):
    """A route named as called (an id, a query string) finds its template; it answered [] before."""
    for called in ("/api/v1/content/12345", "/api/v1/content/12345?page=2"):
        q = urllib.parse.quote(called, safe="/")
        pat = get(f"{server.url}/api/v1/analytics/routes/patterns?days=2&route={q}")
        check(pat["route"] == "/api/v1/content/{id}" and pat["patterns"],
              f"patterns of {called} are those of /api/v1/content/{{id}}")
        peak = get(f"{server.url}/api/v1/analytics/routes/peak-hours?days=2&route={q}")
        check(peak["route"] == "/api/v1/content/{id}" and sum(h["total_requests"] for h in peak["hours"]) > 0,
              f"peak hours of {called} are those of /api/v1/content/{{id}}")


def numbers_print_as_people_read_them(server):
    """Decimals were written as 9.132E1; now as Python's json writes them."""
    paths = ["routes/overview?days=2", "routes/peak-hours?days=2",
             "routes/patterns?days=2&route=/api/v1/content/unified",
             "routes/cache-priorities?days=2&mode=relative",
             "routes/cache-priorities?days=2&min_requests=1&min_latency=50",
             "generation/overview?days=2", "generation/models?days=2", "generation/peak-hours?days=2"]
    decimals = []
    for path in paths:
        with urllib.request.urlopen(f"{server.url}/api/v1/analytics/{path}", timeout=60) as r:
            text = r.read().decode()
        json.loads(text, parse_float=lambda token: decimals.append(token) or float(token))
    exponents = [d for d in decimals if "e" in d.lower()]
    check(decimals and not exponents,
          f"{len(decimals)} decimals without exponent (e.g. {decimals[:3]}){' but ' + str(exponents[:3]) if exponents else ''}")


def templated_routes_get_concrete_cache_keys(server):
    """cache_keys listed /api/v1/content/{id}, which nobody can warm."""
    rows = get(f"{server.url}/api/v1/analytics/routes/cache-priorities?days=2&mode=relative")["routes"]
    item = [r for r in rows if r["route"] == "/api/v1/content/{id}"]
    check(item and item[0]["cacheable"] is True and item[0]["cache_keys"]
          and all(k.startswith("/api/v1/content/") and "{" not in k for k in item[0]["cache_keys"]),
          f"the templated route's cache keys are concrete URLs: {item[0]['cache_keys'] if item else None}")


def proxy_records_hits():
    """`genalytics proxy` in front of a real app: answers unchanged, every hit recorded."""
    import os
    import signal
    import time
    import urllib.request
    from harness import free_port
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "page.html"), "w") as f:
            f.write("hello through the proxy")
        app_port, proxy_port = free_port(), free_port()
        app = subprocess.Popen(["/usr/bin/python3", "-m", "http.server", str(app_port), "--bind", "127.0.0.1"],
                               cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        data = os.path.join(tmp, "data")
        proxy = subprocess.Popen([BINARY, "proxy", "--listen", f"127.0.0.1:{proxy_port}",
                                  "--upstream", f"http://127.0.0.1:{app_port}", "--data-dir", data],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            def fetch(port, path):
                deadline = time.time() + 20
                while True:
                    try:
                        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
                            return r.status, r.read()
                    except urllib.error.HTTPError as e:
                        return e.code, e.read()
                    except OSError:
                        if time.time() > deadline:
                            raise
                        time.sleep(0.05)
            direct = fetch(app_port, "/page.html")
            proxied = fetch(proxy_port, "/page.html?page=3&sort=new")
            check(proxied == direct, "the proxy answers exactly what the app answers")
            missing = fetch(proxy_port, "/nope/12345")
            check(missing[0] == 404, "the app's 404 passes through")
            for _ in range(8):
                fetch(proxy_port, "/page.html?page=1&sort=new")
        finally:
            proxy.send_signal(signal.SIGTERM)
            check(proxy.wait(timeout=60) == 0, "proxy stops cleanly on SIGTERM")
            app.kill()
            app.wait()
        r = subprocess.run([BINARY, "cache-analysis", "-d", "1", "--relative", "-f", "json", "--data-dir", data],
                           capture_output=True, text=True)
        routes = {(x["route"], json.dumps(x["query_params_normalized"], sort_keys=True)): x
                  for x in json.loads(r.stdout)}
        page = routes.get(("/page.html", json.dumps({"sort": "new"})))
        check(page is not None and page["total_requests"] == 9, "every proxied hit is recorded, normalised")
        check(("/nope/{id}", "{}") in routes, "the 404 hit is recorded with its id templated")


def demo_answers_as_a_newcomer_meets_them():
    """`genalytics demo` wrote no route hits: cache-analysis said "No routes found"."""
    with tempfile.TemporaryDirectory() as data:
        r = subprocess.run([BINARY, "demo", "--days", "2", "--data-dir", data], capture_output=True, text=True)
        check(r.returncode == 0, f"demo loads: {r.stderr.strip().splitlines()[-1:]}")
        r = subprocess.run([BINARY, "cache-analysis", "--data-dir", data], capture_output=True, text=True)
        check(r.returncode == 0 and "No routes found" not in r.stdout + r.stderr and "| GET " in r.stdout,
              "System 1 with its default thresholds lists demo routes")
        r = subprocess.run([BINARY, "cache-analysis", "--data-dir", data, "--relative", "--simulate", "-f", "json"],
                           capture_output=True, text=True)
        sim = json.loads(r.stdout)
        posts = [x for x in sim["routes"] if x["method"] == "POST"]
        check(posts and all(x["hits"] == 0 and x["cacheable"] is False for x in posts),
              f"{len(posts)} POST groups ranked, never simulated as cached")
        check(0 < sim["total"]["latency_saved_pct"] < 50,
              f"simulate saves {sim['total']['latency_saved_pct']}% of request time, not the POSTs' half")
        with Server(BINARY, data) as server:
            decimals = []
            for path in ("generation/overview?days=2", "generation/trends?days=2&interval=daily",
                         "generation/models?days=2", "generation/failures?days=2", "generation/peak-hours?days=2",
                         "generation/users/550e8400-e29b-41d4-a716-446655440000?days=2",
                         "routes/overview?days=2", "routes/peak-hours?days=2",
                         "routes/patterns?days=2&route=/api/v1/content/unified",
                         "routes/cache-priorities?days=2", "routes/cache-priorities?days=2&mode=relative"):
                with urllib.request.urlopen(f"{server.url}/api/v1/analytics/{path}", timeout=60) as resp:
                    text = resp.read().decode()
                doc = json.loads(text, parse_float=lambda token: decimals.append(token) or float(token))
                rows = doc.get("routes") or doc.get("patterns") or doc.get("models") or doc.get("hours")
                check(rows is None or len(rows) > 0, f"{path}: answers something")
            exponents = [d for d in decimals if "e" in d.lower()]
            check(len(decimals) > 100 and not exponents,
                  f"demo answers: {len(decimals)} decimals, none in exponent form {exponents[:3]}")


if __name__ == "__main__":
    main()
    demo_answers_as_a_newcomer_meets_them()
    proxy_records_hits()
