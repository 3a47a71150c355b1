# Verbatim from seed 001 (API Examples).
import requests
import pandas as pd
import matplotlib.pyplot as plt

response = requests.get(
    "http://localhost:8001/api/v1/analytics/generation/peak-hours",
    params={"days": 30}
)
data = response.json()

df = pd.DataFrame(data['peak_hours'])

# Create bar chart of requests by hour
plt.figure(figsize=(14, 6))
plt.bar(df['hour_of_day'], df['avg_requests'])
plt.xlabel('Hour of Day (UTC)')
plt.ylabel('Average Requests')
plt.title('Generation Load by Hour of Day')
plt.xticks(range(24))
plt.grid(axis='y', alpha=0.3)
plt.tight_layout()
plt.show()

# Print peak hours
print("Peak generation hours:")
top_hours = df.nlargest(5, 'avg_requests')
for _, row in top_hours.iterrows():
    print(f"  Hour {int(row['hour_of_day']):02d}:00 - {row['avg_requests']:.1f} requests/hour")
