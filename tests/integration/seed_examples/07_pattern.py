# Verbatim from seed 001 (Common Analysis Patterns).
import requests
import pandas as pd
import numpy as np

# Fetch daily trends for last 30 days
response = requests.get(
    "http://localhost:8001/api/v1/analytics/generation/trends",
    params={"days": 30, "interval": "daily"}
)
data = response.json()

df = pd.DataFrame(data['data_points'])
df['timestamp'] = pd.to_datetime(df['timestamp'])

# Calculate moving average for p95 duration
df['p95_ma_7d'] = df['p95_duration_ms'].rolling(window=7).mean()

# Check if recent performance is degrading
recent_avg = df.tail(7)['p95_duration_ms'].mean()
baseline_avg = df.head(7)['p95_duration_ms'].mean()

if recent_avg > baseline_avg * 1.2:  # 20% slower
    print(f"WARNING: Performance degradation detected!")
    print(f"  Recent avg: {recent_avg:.0f}ms")
    print(f"  Baseline: {baseline_avg:.0f}ms")
    print(f"  Degradation: {((recent_avg/baseline_avg - 1) * 100):.1f}%")
