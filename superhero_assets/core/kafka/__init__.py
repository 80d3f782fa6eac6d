"""Kafka reading: planned offsets to Arrow batches of raw messages, and the lag behind them."""
