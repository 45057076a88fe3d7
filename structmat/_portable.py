"""What other libraries expect of an operator (private).

:class:`Portable` is a base of :class:`structmat.LinearOperator` holding what
rests on the contract but is no part of the algebra: SciPy's names (``dot``, ``op(x)``,
``matvec``, ``matmat``, ``rmatvec``, ``rmatmat``, ``adjoint()``,
``transpose()``), ``to()`` and ``to_scipy()``, pickling, and the refusal of
``np.asarray(op)``.
"""

from __future__ import annotations

from typing import Any

import scipy.sparse
import scipy.sparse.linalg

from structmat import _array_api as aa
from structmat._operand import _Converter


class Portable(scipy.sparse.linalg.LinearOperator):
    """SciPy's names, conversions to other namespaces and to SciPy, pickling.

    A subclass of ``scipy.sparse.linalg.LinearOperator`` so that SciPy functions
    that test for that class (``expm_multiply``, ``onenormest``) and PyLops
    composites take a structmat operator as it is. Only the class is shared:
    SciPy's ``__init__`` is never called, and every public method is structmat's.
    """

    def _check_ndim(self: Any, x: Any, what: str, rows: int, vector: bool) -> None:
        ndim = getattr(x, "ndim", None)
        if ndim is None:
            return  # ``@`` names the type
        ok = ndim in (1, 2) and (ndim == 1 or x.shape[1] == 1) if vector else ndim == 2
        if not ok:
            want = (
                f"shape ({rows},) or ({rows}, 1)" if vector else f"a 2-d array of shape ({rows}, k)"
            )
            msg = f"{what} expects {want}, got {tuple(x.shape)}"
            raise ValueError(msg)

    def matvec(self: Any, x: Any) -> Any:
        """``A @ x`` for ``x`` of shape ``(n,)`` or ``(n, 1)`` (SciPy's meaning)."""
        self._check_ndim(x, "matvec", self.shape[1], vector=True)
        return self @ x

    def matmat(self: Any, X: Any) -> Any:
        """``A @ X`` for ``X`` of shape ``(n, k)``."""
        self._check_ndim(X, "matmat", self.shape[1], vector=False)
        return self @ X

    def rmatvec(self: Any, x: Any) -> Any:
        """``A^H @ x`` for ``x`` of shape ``(m,)`` or ``(m, 1)``."""
        return self.H.matvec(x)

    def rmatmat(self: Any, X: Any) -> Any:
        """``A^H @ X`` for ``X`` of shape ``(m, k)``."""
        return self.H.matmat(X)

    def dot(self: Any, x: Any) -> Any:
        """SciPy's ``A.dot(x)``: ``A @ x`` for an array or operator, ``x * A`` for a scalar."""
        return self * x

    def __call__(self: Any, x: Any) -> Any:
        """SciPy's ``A(x)``, the same as :meth:`dot`."""
        return self * x

    def adjoint(self: Any) -> Any:
        return self.H

    def transpose(self: Any) -> Any:
        return self.T

    # PyLops reads these of every operator in its composites (VStack, HStack, ...).
    @property
    def dims(self: Any) -> tuple[int]:
        """PyLops' model shape, ``(n,)``."""
        return (self.shape[1],)

    @property
    def dimsd(self: Any) -> tuple[int]:
        """PyLops' data shape, ``(m,)``."""
        return (self.shape[0],)

    def _foreign(self: Any, x: Any) -> Any:
        """``x`` as a structmat operator if it is another library's operator or a
        SciPy sparse matrix (wrapped, never densified), else ``None``."""
        if isinstance(x, (scipy.sparse.linalg.LinearOperator, scipy.sparse.sparray)) or (
            scipy.sparse.issparse(x) or _is_pylops(x)
        ):
            from structmat.interop import aslinearoperator

            return aslinearoperator(x)
        return None

    def to(self: Any, *, xp: Any = None, device: Any = None, dtype: Any = None) -> Any:
        """The same operator in another namespace, on another device or dtype.

        Parameters
        ----------
        xp : array namespace or module, optional
            Target namespace (``numpy``, ``torch``, ``array_api_strict``, a
            compat namespace...); default: the operator's.
        device : optional
            Target device; default: the operator's device when the namespace
            is unchanged, else the target namespace's default device.
        dtype : optional
            The new dtype (named in any namespace, or a string such as
            ``"complex64"``). A real operator may become complex; a complex
            operator cannot become real (``TypeError``).

        Notes
        -----
        Arrays move through DLPack where possible (no copy on the same
        device), else through the host. Operators that do not implement
        ``_map`` raise ``NotImplementedError``.

        Examples
        --------
        >>> import numpy as np, structmat as sm
        >>> sm.Diagonal(np.ones(3)).to(dtype=np.float32).dtype
        dtype('float32')
        """
        target = self.xp if xp is None else aa.default_namespace(xp)
        if device is None and target is self.xp:
            device = self.device
        if dtype is not None:
            dtype = getattr(target, aa.dtype_name(dtype), dtype)
            aa.check_floating_dtype(target, dtype, "to(dtype=...)")
        _check_jax_x64(target, dtype if dtype is not None else self.dtype)
        return self._map(_Converter(target, device, dtype))

    def to_scipy(self: Any) -> Any:
        """A ``scipy.sparse.linalg.LinearOperator`` (or cupyx's) wired to this one.

        The one lazy import of the core: :mod:`structmat.interop` builds on
        the operators, so it is loaded on first use.
        """
        from structmat.interop import to_scipy

        return to_scipy(self)

    def __array__(self: Any, dtype: Any = None, copy: Any = None) -> Any:
        msg = (
            f"{type(self).__name__} is an operator, not an array: call op.to_dense() for its matrix"
        )
        raise TypeError(msg)

    # Pickling (multiprocessing, joblib): a namespace is a module, which does not
    # pickle, so it travels by name; cached adjoints and transposes are dropped.
    _UNPICKLED = ("_H", "_T")

    def __getstate__(self: Any) -> dict[str, Any]:
        state = {k: v for k, v in self.__dict__.items() if k not in self._UNPICKLED}
        state["_xp"] = aa.namespace_name(self._xp)
        return state

    def __setstate__(self: Any, state: dict[str, Any]) -> None:
        state = dict(state)
        state["_xp"] = aa.namespace_from_name(state["_xp"])
        self.__dict__.update(state)


def _is_pylops(x: Any) -> bool:
    """A PyLops operator (its class does not derive from SciPy's)."""
    return type(x).__module__.startswith("pylops") and hasattr(x, "rmatmat")


def _check_jax_x64(target: Any, dtype: Any) -> None:
    """Refuse a 64-bit operator on JAX without x64: JAX would silently make it 32-bit."""
    if not getattr(target, "__name__", "").startswith("jax"):
        return
    import jax

    name = aa.dtype_name(dtype)
    if name in ("float64", "complex128") and not jax.config.read("jax_enable_x64"):
        msg = (
            f"to(xp=jax.numpy): the operator is {name} but JAX's x64 flag is off "
            "(JAX would make it 32-bit); call jax.config.update('jax_enable_x64', True) "
            "or pass dtype=float32 / complex64"
        )
        raise TypeError(msg)
