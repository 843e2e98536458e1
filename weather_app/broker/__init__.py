"""Adapters to Kafka itself (aiokafka): the app's topics, delivering records, changelog cleanup."""
