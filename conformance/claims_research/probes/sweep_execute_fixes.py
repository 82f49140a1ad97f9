"""#11661 (2.0.32) bulk_insert_mappings(return_defaults=True) fills in primary keys;
#12357 (2.0.39) select() of a multi-part ORM operator expression is an ORM statement
(autoflush); #8614 (1.4.42) Session.execute() no longer mutates bind_arguments."""
from _sweep import *

e = seeded()

def bulk():
    s = Session(e)
    try:
        rows = [{"name": "b1"}, {"name": "b2"}]
        s.bulk_insert_mappings(User, rows, return_defaults=True)
        return rows
    finally:
        s.rollback(); s.close()
step("bulk_insert_mappings(return_defaults=True) dicts", bulk)

def ops(expr_name):
    s = Session(e)
    try:
        s.add(User(id=5, name="p"))
        expr = {"three": User.id + User.id + User.id, "two": User.id + User.id, "col": User.id}[expr_name]
        return sorted(s.execute(select(expr)).scalars().all())
    finally:
        s.rollback(); s.close()
for n in ("col", "two", "three"):
    step(f"pending User(id=5); select({n})", lambda: ops(n))

def bindargs():
    s = Session(e)
    try:
        ba = {}
        s.execute(select(User.name), bind_arguments=ba)
        return ba
    finally:
        s.close()
step("bind_arguments dict after execute()", bindargs)
