# Verbatim from seed 001 (API Examples).
import requests
import pandas as pd

response = requests.get(
    "http://localhost:8001/api/v1/analytics/generation/models",
    params={"days": 30}
)
data = response.json()

# Convert to DataFrame for easy comparison
df = pd.DataFrame(data['models'])
df = df.sort_values('success_rate_pct', ascending=False)

print("Model Performance Comparison:")
print(df[['model_checkpoint', 'total_generations', 'success_rate_pct', 'p95_duration_ms']])
