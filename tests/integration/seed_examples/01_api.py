# Verbatim from seed 001 (API Examples).
import requests

response = requests.get(
    "http://localhost:8001/api/v1/analytics/generation/overview",
    params={"days": 7}
)
data = response.json()

print(f"Success rate: {data['success_rate_pct']:.1f}%")
print(f"Total requests: {data['total_requests']}")
print(f"P95 latency: {data['p95_duration_ms']}ms")
