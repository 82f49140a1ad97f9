"""A pure-Python reference model of the whole session world.

``model`` holds the data (the database's committed rows, several Sessions,
scoped registries, the ORM objects); ``ops`` holds one small function per
documented operation, each quoting in its docstring the documentation
sentence it implements, so a reader can check it line by line against the
SQLAlchemy documentation; ``repro`` renders a recorded walk as a standalone
script.  Nothing here imports SQLAlchemy: the state machines in
``sa_conformance/suite/test_world_*.py`` drive real SQLAlchemy and this model
in lock-step and compare them after every step.
"""
