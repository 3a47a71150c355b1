"""Model usage analytics (issue 10) as a user meets them: the demo's fleet,
`genalytics models usage|recommend|report|simulate|list|scan`, and the same
answers over HTTP. Our preload schedule must beat LRU and a 5-minute
keep-alive on the demo's traffic."""
import csv
import io
import json
import os
import subprocess
import sys
import tempfile

from harness import Server, check, get

BINARY = sys.argv[1]


def run(*args):
    return subprocess.run([BINARY, *args], capture_output=True, text=True, timeout=600)


def run_json(*args):
    r = run(*args, "-f", "json")
    check(r.returncode == 0, f"genalytics {' '.join(args)} -f json: {r.stderr.strip()[-300:]}")
    return json.loads(r.stdout)


def sparse(path, size):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.truncate(size)


def main():
    r = run("models", "--help")
    check(r.returncode == 0 and "simulate" in r.stdout and "scan" in r.stdout, "genalytics models --help")
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "data")
        r = run("models", "usage", "--data-dir", data)
        check(r.returncode == 1 and "no store at" in r.stderr, f"models usage never creates a store: {r.stderr.strip()}")

        r = run("demo", "--days", "30", "--data-dir", data)
        check(r.returncode == 0 and "model events" in r.stderr, f"demo loads a model fleet: {r.stderr.strip()}")

        usage = run_json("models", "usage", "--data-dir", data)
        models = {m["model_id"]: m for m in usage["models"]}
        check(len(models) >= 20, f"usage lists the fleet ({len(models)} models)")
        uses = [m["uses"] for m in usage["models"]]
        check(uses == sorted(uses, reverse=True), "models[] by uses desc")
        directions = {m["trend"]["direction"] for m in usage["models"] if m["uses"] > 0}
        check({"increasing", "decreasing"} <= directions, f"a rising and a declining model ({directions})")
        loras = [m for m in usage["models"] if m["model_kind"] == "lora" and m["uses"] > 0]
        check(loras and all(m["base_model"] for m in loras), "LoRAs in use carry their base model")
        never = [m for m in usage["models"] if m["uses"] == 0]
        check(never, f"models on disk that nothing used: {[m['model_id'] for m in never]}")
        one = run_json("models", "usage", usage["models"][0]["model_id"], "--data-dir", data)
        check(one["uses"] == usage["models"][0]["uses"] and len(one["daily_uses"]) == 30,
              "one model's usage, every day of the window")
        r = run("models", "usage", "no_such_model", "--data-dir", data)
        check(r.returncode == 1 and "no such model" in r.stderr, f"an unknown model: {r.stderr.strip()}")

        listing = run_json("models", "list", "--data-dir", data)
        loaded = {m["model_id"] for m in listing["models"] if m["loaded"]}
        check(loaded, f"the fleet ends with models loaded ({sorted(loaded)})")

        rec = run_json("models", "recommend", "--data-dir", data)
        cleanup = {c["model_id"] for c in rec["cleanup"]}
        check(not cleanup & loaded, f"cleanup never names a loaded model ({cleanup & loaded})")
        bases = {m["base_model"] for m in usage["models"] if m["uses"] > 0 and m["base_model"]}
        check(not cleanup & bases, f"cleanup never names a base model in use ({cleanup & bases})")
        check({m["model_id"] for m in never} - loaded <= cleanup, "every never-used model on disk is a cleanup candidate")
        check(rec["reclaimable_bytes"] == sum(c["space_saved_bytes"] for c in rec["cleanup"]), "reclaimable space adds up")
        check(rec["preload"], "preload names the busy models")
        budget = rec["schedule"]["vram_budget_mb"]
        check(all(h["vram_mb"] <= budget for h in rec["schedule"]["hours"]), "the schedule keeps to the budget")
        check(any(p["issue"] == "low_success" for p in rec["performance"]), "performance finds the damaged model")

        out = os.path.join(tmp, "report.csv")
        r = run("models", "report", "--format", "csv", "--out", out, "--data-dir", data)
        check(r.returncode == 0, f"report --format csv --out: {r.stderr.strip()}")
        with open(out, newline="") as f:
            rows = list(csv.DictReader(f))
        check(len(rows) == len(models) and {r["model_id"] for r in rows} == set(models),
              f"the CSV report has a row per model ({len(rows)})")
        report = json.loads(run("models", "report", "--data-dir", data).stdout)
        check(report["summary"]["models"] == len(models), "the JSON report by default")

        sim = run_json("models", "simulate", "--data-dir", data)
        by = {p["policy"]: p for p in sim["policies"]}
        print(" ".join(f"{name}: {p['warm_hit_ratio']:.3f} warm, {p['cold_starts']} cold, {p['load_seconds']:.0f} s"
                       for name, p in by.items()))
        check(by["ours"]["cold_starts"] < by["lru"]["cold_starts"], "ours beats LRU on the demo")
        check(by["ours"]["cold_starts"] < by["keep_alive_5m"]["cold_starts"], "ours beats a 5-minute keep-alive")
        check(by["belady"]["cold_starts"] <= by["ours"]["cold_starts"], "Belady bounds every policy")
        check("actual" in by, "what really happened is replayed beside them")

        root = os.path.join(tmp, "models")
        sparse(os.path.join(root, "checkpoints", "forgotten_xl.safetensors"), 6_900_000_000)
        sparse(os.path.join(root, "loras", "old_style.safetensors"), 150_000_000)
        sparse(os.path.join(root, "loras", "notes.txt"), 10)
        r = run("models", "scan", root, "--dry-run", "--data-dir", data)
        check(r.returncode == 0 and "found 2 model file(s)" in r.stderr, f"scan --dry-run: {r.stderr.strip()}")
        r = run("models", "scan", root, "--data-dir", data)
        check(r.returncode == 0 and "registered 2" in r.stderr, f"scan registers: {r.stderr.strip()}")
        listing = {m["model_id"]: m for m in run_json("models", "list", "--data-dir", data)["models"]}
        check(listing["forgotten_xl"]["size_bytes"] == 6_900_000_000 and
              listing["forgotten_xl"]["model_kind"] == "checkpoint", "a scanned checkpoint, with its size")
        r = run("models", "scan", os.path.join(tmp, "nowhere"), "--data-dir", data)
        check(r.returncode != 0, "scan of a missing folder fails")

        with Server(BINARY, data) as server:
            api = get(server.url + "/api/v1/analytics/models/usage?days=30")
            check(len(api["models"]) == len(models) + 2, "the API sees the scanned models too")
            one = get(server.url + "/api/v1/analytics/models/recommendations?kind=cleanup")
            check("forgotten_xl" in {c["model_id"] for c in one["cleanup"]}, "a scanned, unused model is a cleanup candidate")
            sim_api = get(server.url + "/api/v1/analytics/models/simulate?days=30")
            if sim_api["window"] == sim["window"]:  # not across an hour boundary
                check({p["policy"]: p["cold_starts"] for p in sim_api["policies"]} ==
                      {p["policy"]: p["cold_starts"] for p in sim["policies"]}, "the API's simulation is the CLI's")


if __name__ == "__main__":
    main()
