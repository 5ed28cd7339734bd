#!/bin/sh
# Redis 7.0's own test suite, the units marked "fast" in redis-compat/units.txt,
# against a fresh larder-server per unit (redis-compat/run-redis-suite --quick).
# `make compat` runs every unit and regenerates redis-compat/COMPAT.md.
exec /usr/bin/python3 redis-compat/run-redis-suite --quick
