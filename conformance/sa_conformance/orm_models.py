"""The mapped classes every claim test uses.  Portable across SQLAlchemy 1.4,
2.0 and 2.1 (classic ``Column`` declarations) and across backends (string
lengths for MySQL, no reserved table names)."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Integer, String
from sqlalchemy.orm import registry, relationship

mapper_registry = registry()
Base = mapper_registry.generate_base()
metadata = mapper_registry.metadata


class User(Base):
    __tablename__ = "users"

    id = Column(Integer, primary_key=True, autoincrement=True)
    name = Column(String(50), nullable=False)
    addresses = relationship("Address", back_populates="user", cascade="all, delete-orphan")

    def __repr__(self) -> str:
        return f"User(id={self.__dict__.get('id')!r}, name={self.__dict__.get('name')!r})"


class Address(Base):
    __tablename__ = "addresses"

    id = Column(Integer, primary_key=True, autoincrement=True)
    user_id = Column(Integer, ForeignKey("users.id"), nullable=False)
    email = Column(String(100), nullable=False)
    user = relationship("User", back_populates="addresses")


class Item(Base):
    """A mapped class with no relationships (so no cascades load or touch
    anything): the state-machine tests and their standalone reproduction
    scripts use it."""

    __tablename__ = "items"

    id = Column(Integer, primary_key=True, autoincrement=True)
    name = Column(String(50), nullable=False)
