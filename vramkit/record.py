"""Frozen dataclasses without importing `dataclasses` at start-up.

`import dataclasses` imports `inspect` (and with it ast, dis and tokenize): about 12 ms, a fifth of
what a vramkit command may add to Python's start-up, and `@dataclass` then compiles several
methods per class. `@record` builds the same frozen class compiling only its `__init__` (defaults,
`default_factory`, `__post_init__`); `__eq__` and `__hash__` over the fields with compare=True and
`__repr__` over those with repr=True are shared functions; assignment raises `FrozenInstanceError`.

It stays a dataclass to the standard library: `dataclasses.fields`, `replace`, `asdict` and
`is_dataclass` work, through `__dataclass_fields__`, which a class builds (importing dataclasses)
only when first asked for it. vramkit itself reads `__record_fields__` (the field names) instead.
"""
from __future__ import annotations

from operator import attrgetter

_MISSING = object()    # no default given
_FACTORY = object()    # the __init__ default of a field with a default_factory


class FrozenInstanceError(AttributeError):
    """Assigning to a field of a frozen record (dataclasses raises its own AttributeError subclass)."""


class Field:
    """What `field()` says about one field (the subset of dataclasses.field vramkit uses)."""

    __slots__ = ("default", "default_factory", "compare", "repr")

    def __init__(self, default=_MISSING, default_factory=_MISSING, compare=True, repr=True):
        self.default, self.default_factory, self.compare, self.repr = default, default_factory, compare, repr


def field(*, default=_MISSING, default_factory=_MISSING, compare: bool = True, repr: bool = True) -> Field:
    return Field(default, default_factory, compare, repr)


class _DataclassFields:
    """`__dataclass_fields__` / `__dataclass_params__` on first access: the fields of a shadow
    dataclass with the same fields, built by `dataclasses` itself, then kept on the class."""

    def __init__(self, attr: str):
        self.attr = attr

    def __get__(self, obj, cls):
        import dataclasses

        spec = cls.__record_spec__
        ns = {"__annotations__": {name: ann for name, ann, _ in spec}}
        for name, _, f in spec:
            ns[name] = dataclasses.field(**{k: v for k, v in (("default", f.default),
                                                               ("default_factory", f.default_factory))
                                            if v is not _MISSING}, compare=f.compare, repr=f.repr)
        shadow = dataclasses.dataclass(frozen=True)(type(cls.__name__, (), ns))
        for attr in ("__dataclass_fields__", "__dataclass_params__"):
            setattr(cls, attr, getattr(shadow, attr))
        return getattr(cls, self.attr)


def _eq(self, other):
    if other.__class__ is self.__class__:
        return self.__record_compared__(self) == other.__record_compared__(other)
    return NotImplemented


def _hash(self):
    return hash(self.__record_compared__(self))


def _repr(self):
    shown = ", ".join(f"{n}={self.__dict__[n]!r}" for n in self.__record_shown__)
    return f"{self.__class__.__qualname__}({shown})"


def _frozen_setattr(self, name, value):
    raise FrozenInstanceError(f"cannot assign to field {name!r}")


def _frozen_delattr(self, name):
    raise FrozenInstanceError(f"cannot delete field {name!r}")


def record(cls):
    """`@dataclass(frozen=True)` for `cls`, without the dataclasses module (see the module docstring)."""
    spec = []  # (name, annotation, Field), base classes' fields first, as dataclasses orders them
    for base in reversed(cls.__mro__[1:]):
        for item in getattr(base, "__record_spec__", ()):
            spec = [s for s in spec if s[0] != item[0]] + [item]
    for name, ann in cls.__dict__.get("__annotations__", {}).items():
        if str(ann).startswith(("ClassVar", "typing.ClassVar")):
            continue
        value = cls.__dict__.get(name, _MISSING)
        f = value if isinstance(value, Field) else Field(default=value)
        spec = [s for s in spec if s[0] != name] + [(name, ann, f)]
        if f.default is _MISSING:  # a field without a plain default is no class attribute
            if name in cls.__dict__:
                delattr(cls, name)
        else:
            setattr(cls, name, f.default)
    names = [name for name, _, _ in spec]
    # Only __init__ is compiled (compiling costs start-up: ~1 ms for ModelSpec's 59 fields with one
    # statement each, a third of that for a signature and one update from locals()); __eq__, __hash__
    # and __repr__ are shared functions over the tuple of field names.
    env = {"_FACTORY": _FACTORY}
    params, body = [], []
    for name, _, f in spec:
        if f.default_factory is not _MISSING:
            env[f"_factory_{name}"] = f.default_factory
            params.append(f"{name}=_FACTORY")
            body.append(f"{name} = _factory_{name}() if {name} is _FACTORY else {name}")
        else:
            if f.default is not _MISSING:
                env[f"_default_{name}"] = f.default
            params.append(name if f.default is _MISSING else f"{name}=_default_{name}")
    if len(spec) > 24:  # a long signature (ModelSpec): one update from locals(), quicker to compile
        # locals() holds exactly the parameters, in field order (the order of __dict__, as a dataclass's)
        body += ["_d = locals()", "del _d['self']", "self.__dict__.update(_d)"]
    else:  # a short one, built per call (InferenceMemory, EngineRequest): one store per field, quicker to run
        body += ["_d = self.__dict__"] + [f"_d[{name!r}] = {name}" for name in names]
    if hasattr(cls, "__post_init__"):
        body.append("self.__post_init__()")
    source = "\n".join([f"def __init__(self, {', '.join(params)}):", *(f"    {line}" for line in body)])
    exec(source, env)  # noqa: S102 (the source is built above from the field names only)
    env["__init__"].__qualname__ = f"{cls.__qualname__}.__init__"
    cls.__init__ = env["__init__"]
    compared = tuple(n for n, _, f in spec if f.compare)
    cls.__record_compared__ = attrgetter(*compared) if len(compared) > 1 else staticmethod(
        (lambda obj, n=compared[0]: (getattr(obj, n),)) if compared else (lambda obj: ()))
    cls.__record_shown__ = tuple(n for n, _, f in spec if f.repr)
    cls.__eq__, cls.__hash__, cls.__repr__ = _eq, _hash, _repr
    cls.__setattr__, cls.__delattr__ = _frozen_setattr, _frozen_delattr
    cls.__record_spec__ = tuple(spec)
    cls.__record_fields__ = tuple(names)
    cls.__match_args__ = tuple(names)
    cls.__dataclass_fields__ = _DataclassFields("__dataclass_fields__")
    cls.__dataclass_params__ = _DataclassFields("__dataclass_params__")
    return cls


def replace(obj, **changes):
    """A copy of record `obj` with `changes` (dataclasses.replace: every field through __init__ again)."""
    return obj.__class__(**{**{n: obj.__dict__[n] for n in obj.__record_fields__}, **changes})
