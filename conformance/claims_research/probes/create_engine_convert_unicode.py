"""Fact: create_engine(url, convert_unicode=True) (seed 003 recipe): 1.4 deprecation warning, 2.0+ rejected."""

from _probe import *  # noqa: F401,F403 -- step(), mk_base(), mem_engine(), file_engine(), rows_elsewhere()

step("create_engine('sqlite://', convert_unicode=True)", lambda: type(create_engine("sqlite://", convert_unicode=True)).__name__)
