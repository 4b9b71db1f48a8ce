"""Speed and memory benchmarks; run each as a module from the project root: `python -m benchmarks.bench_bot`."""
