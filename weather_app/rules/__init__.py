"""The speed layer's rules as pure functions: validation, enrichment, forecast, freshness, quota."""
