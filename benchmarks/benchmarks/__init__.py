"""pygd's asv suite: each optimizer x dtype x size x backend (see common.py, and README, Benchmarks)."""
