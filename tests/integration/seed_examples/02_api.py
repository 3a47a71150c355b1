# Verbatim from seed 001 (API Examples).
import requests
import pandas as pd
import matplotlib.pyplot as plt

# Fetch trends data
response = requests.get(
    "http://localhost:8001/api/v1/analytics/generation/trends",
    params={"days": 7, "interval": "hourly"}
)
data = response.json()

# Convert to DataFrame for analysis
df = pd.DataFrame(data['data_points'])
df['timestamp'] = pd.to_datetime(df['timestamp'])

# Plot success rate over time
plt.figure(figsize=(12, 6))
plt.plot(df['timestamp'], df['success_rate'], marker='o')
plt.xlabel('Time')
plt.ylabel('Success Rate')
plt.title('Generation Success Rate - Last 7 Days')
plt.xticks(rotation=45)
plt.tight_layout()
plt.show()
