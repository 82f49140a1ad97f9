"""The documented operations of sessionmaker and scoped_session: making
Sessions, (re)configuring the factory, the registry's scopes, remove(), the
proxy's attributes and classmethods.

One function per documented operation, its docstring quoting the sentence it
implements (docs.sqlalchemy.org/en/20/orm/contextual.html, session_api.html).
"""

from __future__ import annotations

from typing import Optional

from .model import Sess, World
from .ops_txn import ALREADY_PRESENT, Expect, close

CONFIGURE_PRESENT = ("At least one scoped session is already present.  configure() can not affect sessions that "
                     "have already been created.")


def maker_call(configured: dict, local: Optional[dict] = None) -> dict:
    """"Keyword arguments to the sessionmaker call override the configured
    ones for that Session only"; sessionmaker(info=...): "this dictionary is
    *updated*, not replaced, when the info parameter is specified to the
    specific Session construction operation"."""
    out = {k: v for k, v in configured.items() if k != "info"}
    out["info"] = dict(configured.get("info") or {})
    for k, v in (local or {}).items():
        if k == "info":
            out["info"].update(v)
        else:
            out[k] = v
    return out


def maker_configure(configured: dict, new: dict) -> None:
    """"sessionmaker.configure(**new_kw): (Re)configure the arguments for this
    sessionmaker" -- Sessions made before keep their settings."""
    configured.update(new)


def registry_call(w: World, key, make: Optional[callable] = None, kwargs: Optional[dict] = None):
    """"scoped_session ... will create the Session when first called, and
    return the same Session on subsequent calls within the scope" (calling
    the factory only then); "Scoped session is already present; no new
    arguments may be specified"; keyword arguments of the creating call are
    passed to the factory.  ``make(config)`` builds the model Session and
    returns its sid."""
    if key in w.scopes:
        if kwargs:
            return Expect("InvalidRequestError", ALREADY_PRESENT)
        return w.scopes[key]
    w.made += 1
    w.scopes[key] = make(maker_call(w.scoped_cfg, kwargs))
    return w.scopes[key]


def registry_remove(w: World, key) -> None:
    """"remove() ... calls close() on the current Session ... and discards it;
    the next call creates a new Session" -- with no Session present it does
    nothing (nothing is created)."""
    sid = w.scopes.pop(key, None)
    if sid is not None:
        close(w, w.sessions[sid])


def configure_scoped(w: World, key, new: dict) -> Optional[str]:
    """"scoped_session.configure(): reconfigure the sessionmaker used by this
    scoped_session"; with a Session present in the current scope it warns
    "At least one scoped session is already present.  configure() can not
    affect sessions that have already been created." (returns the warning)."""
    maker_configure(w.scoped_cfg, new)
    return CONFIGURE_PRESENT if key in w.scopes else None


def set_setting(w: World, s: Sess, name: str, value) -> None:
    """"Attributes read or set on the registry (... info, autoflush ...) are
    those of the current scope's Session" -- setting autoflush changes only
    that Session (no transaction begins)."""
    setattr(s, name, value)


def set_info(w: World, s: Sess, key: str, value) -> None:
    """"Session.info: A user-modifiable dictionary ... always local to this
    Session and can be modified independently of all other Session
    objects"."""
    s.info[key] = value


def object_session_of(w: World, sid: Optional[int]) -> Optional[int]:
    """"object_session(instance): Return the Session to which an object
    belongs" -- a classmethod proxy: answering it creates no Session in the
    current scope."""
    return sid
