"""Peer fixtures: capture.py writes them where torch / torchao / bitsandbytes are installed,
checks.py compares fmtlib with them (tests/test_peer_fixtures.py, in every run)."""
