"""Helpers the tests share: plain modules that test files import. Fixtures live in the
conftest.py files, which no test imports (pytest finds them itself)."""
