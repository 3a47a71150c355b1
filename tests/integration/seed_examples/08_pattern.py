# Verbatim from seed 001 (Common Analysis Patterns).
import requests

response = requests.get(
    "http://localhost:8001/api/v1/analytics/generation/overview",
    params={"days": 1}  # Last 24 hours
)
data = response.json()

FAILURE_THRESHOLD = 10.0  # 10% failure rate

failure_rate = 100 - data['success_rate_pct']

if failure_rate > FAILURE_THRESHOLD:
    print(f"ALERT: High failure rate detected: {failure_rate:.1f}%")

    # Get failure details
    failures_response = requests.get(
        "http://localhost:8001/api/v1/analytics/generation/failures",
        params={"days": 1}
    )
    failures = failures_response.json()

    print("\nTop errors:")
    for error in failures['error_types'][:3]:
        print(f"  {error['error_type']}: {error['count']} occurrences")
