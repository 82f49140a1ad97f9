"""Fact: seed 000 says both sqlalchemy.ext.declarative.declarative_base and sqlalchemy.orm.declarative_base work."""

from _probe import *  # noqa: F401,F403 -- step(), mk_base(), mem_engine(), file_engine(), rows_elsewhere()

def ext():
    from sqlalchemy.ext.declarative import declarative_base
    return type(declarative_base()).__name__
def orm():
    from sqlalchemy.orm import declarative_base
    return type(declarative_base()).__name__
step("sqlalchemy.ext.declarative.declarative_base()", ext)
step("sqlalchemy.orm.declarative_base()", orm)
