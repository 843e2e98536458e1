"""The analytics side of the Lambda architecture: the Parquet lake and the Cassandra history."""
