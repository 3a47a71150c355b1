# Verbatim from seed 001 (API Examples).
import requests

response = requests.get(
    "http://localhost:8001/api/v1/analytics/generation/failures",
    params={"days": 7}
)
data = response.json()

# Analyze error types
print("Top Error Types:")
for error in data['error_types']:
    print(f"\n{error['error_type']}: {error['count']} occurrences")
    print(f"  Avg duration: {error['avg_duration_ms']}ms")
    print("  Sample messages:")
    for msg in error['sample_messages'][:2]:
        print(f"    - {msg}")

# Plot failure trends
import pandas as pd
import matplotlib.pyplot as plt

df = pd.DataFrame(data['failure_trends'])
df['date'] = pd.to_datetime(df['date'])

plt.figure(figsize=(12, 6))
plt.plot(df['date'], df['failure_rate'], marker='o', color='red')
plt.xlabel('Date')
plt.ylabel('Failure Rate')
plt.title('Generation Failure Rate Trend')
plt.xticks(rotation=45)
plt.tight_layout()
plt.show()
