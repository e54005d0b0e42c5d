print("anomaly")
