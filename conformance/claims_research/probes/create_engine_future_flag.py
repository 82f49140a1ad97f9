"""Fact: create_engine(url, future=True) (seed 000): accepted in all; future=False per version."""

from _probe import *  # noqa: F401,F403 -- step(), mk_base(), mem_engine(), file_engine(), rows_elsewhere()

step("create_engine future=True type", lambda: type(create_engine("sqlite://", future=True)).__module__ + "." + type(create_engine("sqlite://", future=True)).__name__)
step("create_engine default type", lambda: type(create_engine("sqlite://")).__module__ + "." + type(create_engine("sqlite://")).__name__)
step("create_engine future=False", lambda: type(create_engine("sqlite://", future=False)).__name__)
