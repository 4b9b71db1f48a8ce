"""Test support shared by the tests and the benchmarks (the fake Bot API lives in `botapi`)."""
