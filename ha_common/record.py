"""``@record``: frozen value classes without importing ``dataclasses``.

``dataclasses`` imports ``inspect`` (with ``ast``, ``dis`` and ``tokenize``),
about 10 ms of every agent's start-up, for what agents need from it: an
``__init__`` from annotated fields, immutability, equality, a hash and a
readable ``repr``.  ``record`` gives exactly that from the class's own
annotations, in order; a field with a class-level value has that default
(use immutable defaults only).  ``__post_init__`` runs after ``__init__``,
as with dataclasses.  Type checkers see a frozen dataclass
(``dataclass_transform``).
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs ~5 ms of start-up; see STYLE.md section 9
if TYPE_CHECKING:
    from typing import Any, TypeVar

    from typing_extensions import dataclass_transform

    T = TypeVar("T")
else:

    def dataclass_transform(**_kwargs: object) -> object:
        """Stand in for typing's marker, which only type checkers read."""
        return lambda decorated: decorated


_MISSING = object()


class FrozenInstanceError(AttributeError):
    """A field of a record was assigned after construction."""


def _frozen_setattr(self: object, name: str, value: object) -> None:
    raise FrozenInstanceError(f"cannot assign to field {name!r} of a frozen record")


def _frozen_delattr(self: object, name: str) -> None:
    raise FrozenInstanceError(f"cannot delete field {name!r} of a frozen record")


@dataclass_transform(frozen_default=True)
def record(cls: type[T]) -> type[T]:
    """Turn ``cls`` into a frozen value class built from its annotations."""
    names = tuple(cls.__dict__.get("__annotations__", {}))
    defaults = {name: cls.__dict__.get(name, _MISSING) for name in names}
    required = [name for name in names if defaults[name] is _MISSING]
    post_init = getattr(cls, "__post_init__", None)

    def __init__(self: Any, *args: object, **kwargs: object) -> None:  # noqa: N807
        if len(args) > len(names):
            raise TypeError(
                f"{cls.__name__}() takes {len(names)} arguments, got {len(args)}"
            )
        values = dict(zip(names, args))
        for key, value in kwargs.items():
            if key not in defaults:
                raise TypeError(f"{cls.__name__}() got an unknown field {key!r}")
            if key in values:
                raise TypeError(f"{cls.__name__}() got {key!r} twice")
            values[key] = value
        missing = [name for name in required if name not in values]
        if missing:
            raise TypeError(f"{cls.__name__}() is missing {', '.join(missing)}")
        for name in names:
            object.__setattr__(self, name, values.get(name, defaults[name]))
        if post_init is not None:
            post_init(self)

    def _key(self: object) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in names)

    def __eq__(self: object, other: object) -> bool:  # noqa: N807
        if other.__class__ is not self.__class__:
            return NotImplemented
        return _key(self) == _key(other)

    def __hash__(self: object) -> int:  # noqa: N807
        return hash((cls.__name__, *_key(self)))

    def __repr__(self: object) -> str:  # noqa: N807
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in names)
        return f"{cls.__name__}({shown})"

    methods = {
        "__init__": __init__,
        "__eq__": __eq__,
        "__hash__": __hash__,
        "__setattr__": _frozen_setattr,
        "__delattr__": _frozen_delattr,
    }
    if "__repr__" not in cls.__dict__:
        methods["__repr__"] = __repr__
    for name, method in methods.items():
        setattr(cls, name, method)
    setattr(cls, "__record_fields__", names)  # noqa: B010
    return cls
