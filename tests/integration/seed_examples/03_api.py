# Verbatim from seed 001 (API Examples).
import requests

user_id = "550e8400-e29b-41d4-a716-446655440000"
response = requests.get(
    f"http://localhost:8001/api/v1/analytics/generation/users/{user_id}",
    params={"days": 30}
)
data = response.json()

print(f"User {user_id} Analytics:")
print(f"  Total requests: {data['total_requests']}")
print(f"  Success rate: {data['success_rate_pct']:.1f}%")
print(f"  Avg duration: {data['avg_duration_ms']}ms")

# Show failure breakdown
if data['failure_breakdown']:
    print("\nFailure breakdown:")
    for failure in data['failure_breakdown']:
        print(f"  {failure['error_type']}: {failure['count']} failures")
