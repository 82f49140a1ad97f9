"""One function per documented operation of the session world.

Each function's docstring quotes the documentation sentence it implements
(docs.sqlalchemy.org/en/20/orm/: session_state_management, session_basics,
session_transaction, contextual, session_api), so a reader can check the model
against the documentation line by line.  Nothing raises: an operation the
documentation says fails returns the error it names (:class:`Expect`) and
changes nothing else.  The functions live in three modules by subject:

* ``ops_txn``: autobegin, flush, commit, rollback, SAVEPOINTs, close, reset, expunge;
* ``ops_objects``: add, delete, make_transient(_to_detached), merge, attribute
  changes, expiry, refresh, loading, queries;
* ``ops_scoping``: sessionmaker calls and configure(), the scoped registry,
  remove(), the proxy's attributes and classmethods.

This module gathers them under one name (``ops.commit``, ``ops.merge``, ...).
"""

from __future__ import annotations

from .model import GONE, Obj, Sess, Txn, World  # noqa: F401 (re-exported)
from .ops_objects import (  # noqa: F401 (re-exported)
    add,
    delete,
    expire,
    expire_all,
    expire_attrs,
    make_transient,
    make_transient_to_detached,
    merge,
    query_names,
    read,
    refresh,
    refresh_attrs,
    set_name,
)
from .ops_scoping import (  # noqa: F401 (re-exported)
    CONFIGURE_PRESENT,
    configure_scoped,
    maker_call,
    maker_configure,
    object_session_of,
    registry_call,
    registry_remove,
    set_info,
    set_setting,
)
from .ops_txn import (  # noqa: F401 (re-exported)
    ALREADY_ATTACHED,
    ALREADY_BEGUN,
    ALREADY_PRESENT,
    CLOSED_FOR_GOOD,
    DELETED_ADD,
    DETACHED_REFRESH,
    MERGE_DIRTY,
    MERGE_TRANSIENT,
    PENDING_ROLLBACK,
    Expect,
    autobegin,
    begin,
    begin_nested,
    close,
    commit,
    connect,
    count_write,
    expunge,
    expunge_all,
    failed_flush,
    flush,
    release_savepoint,
    reset,
    restore_snapshot,
    rollback,
    rollback_savepoint,
)
