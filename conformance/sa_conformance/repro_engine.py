"""The engine lines of every standalone reproduction script, from the
backend's declaration (never from its name).

A script's database is what the backend declares for reproductions
(``BackendSpec.repro_url`` / ``repro_engine_kw`` through
``Backend.repro_source()``, and ``repro_engine_setup``: the script
counterpart of the suite's ``engine_setup``, e.g. the pysqlite explicit-BEGIN
workaround).  Whether the script reads committed rows on a second,
independent connection is the backend's ``independent_connections``
capability, as for the suite's own observer engine.
"""

from __future__ import annotations

from dataclasses import dataclass

from sa_fixtures.redaction import MASK, redact


@dataclass(frozen=True)
class ReproEngine:
    #: the script's database URL (never with a password)
    url: str
    #: extra ``create_engine`` keyword source (``', poolclass=StaticPool'``)
    engine_kw: str = ""
    #: source configuring ``engine`` once it is created
    setup: str = ""
    #: a second engine's connections are independent of the Session's: committed rows are read there
    independent: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "url", redact(self.url))  # whoever builds one, a script never shows a password

    @classmethod
    def of(cls, backend) -> ReproEngine:
        """What ``backend`` (a ``sa_fixtures.backend.Backend``) declares for reproductions."""
        url, engine_kw = backend.repro_source()
        return cls(url, engine_kw, backend.spec.repro_engine_setup, backend.has("independent_connections"))

    @classmethod
    def declared(cls, name: str = "sqlite-memory") -> ReproEngine:
        """What the embedded backend ``name`` declares: the default of the
        script generators when no backend is given (their self-checks)."""
        from sa_fixtures.backends import BACKENDS

        spec = BACKENDS[name]
        if spec.repro_url is None:
            raise ValueError(f"backend {name!r} declares no reproduction URL of its own; use ReproEngine.of(backend)")
        return cls(spec.repro_url, spec.repro_engine_kw, spec.repro_engine_setup, spec.has("independent_connections"))

    def setup_lines(self) -> list[str]:
        return ["", "", *self.setup.splitlines(), "", ""] if self.setup else []

    def lines(self, observer: bool = True) -> list[str]:
        """Script lines defining ``URL`` and ``engine`` (and ``observer``, the
        engine committed rows are read on).  The script imports
        ``create_engine``, and ``StaticPool`` / ``NullPool`` where the declared
        keywords name them."""
        note = "  # password redacted: fill it in" if MASK in self.url else ""
        out = [f"URL = {self.url!r}{note}", f"engine = create_engine(URL{self.engine_kw})", *self.setup_lines()]
        if observer:
            out.append(f"observer = create_engine(URL{self.engine_kw})  # its own pool: an independent connection"
                       if self.independent else
                       "observer = engine  # one shared connection: rows are read only between transactions")
        return out
