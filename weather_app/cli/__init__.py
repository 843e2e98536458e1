"""Command-line tools, `faust -A weather_app <command>`, and what they read: replay, InfluxDB."""
