"""The test harness shared by every layer of tests/ and by benchmarks/: servers the tests
run against (the emulator over HTTPS, redis-server, gunicorn instances, the demo app on a
thread), free ports and waiting for them, and builders several test modules use.

Test modules import from here, never from each other.
"""
