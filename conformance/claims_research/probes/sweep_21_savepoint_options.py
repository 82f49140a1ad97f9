"""#13744 (2.1.7): begin_nested() re-applied execution options (Session(execution_options=...),
2.1's per-Session options, #12659) to the connection, so 'isolation_level' raised."""
from _sweep import *
import tempfile

def nested_with_session_options():
    d = tempfile.mkdtemp()
    e = create_engine(f"sqlite:///{d}/x.db")
    Base.metadata.create_all(e)
    s = Session(e, execution_options={"isolation_level": "SERIALIZABLE"})
    try:
        s.execute(select(User.id)).all()
        sp = s.begin_nested()
        s.add(User(name="n"))
        sp.commit()
        s.commit()
        return "ok"
    finally:
        s.close()
step("Session(execution_options={'isolation_level': ...}); query; begin_nested()", nested_with_session_options)
