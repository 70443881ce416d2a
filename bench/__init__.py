"""Benchmark of the service: a seeded MSP data generator, a bulk loader, timings, load
and the hand-written SQL floor of the audit (issue 6). Not part of the test run."""
