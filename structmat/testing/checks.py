r"""The operator laws, checked on any ``LinearOperator``: :func:`check_linear_operator`.

Every law compares against one dense oracle built from the operator itself
column by column (:math:`A e_j`), converted to NumPy in double precision, so
the check needs nothing but ``op @ x`` to be right and holds every other
path (``to_dense``, matmat, batches, ``x @ op``, ``.H``, ``.T``,
``.conj()``, products, dtypes, namespaces) to it.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from structmat import _array_api as aa
from structmat._args import integer
from structmat.linop import LinearOperator, Product
from structmat.testing._tolerance import to_numpy, tolerance

__all__ = ["CheckReport", "check_linear_operator"]

_TINY = np.finfo(np.float64).tiny
_NOT_DEFINED: Any = object()


@dataclass(frozen=True)
class CheckReport:
    """What :func:`check_linear_operator` checked on one operator.

    Attributes
    ----------
    operator : str
        The operator's ``repr`` (shortened).
    laws : tuple of str
        The laws that ran and hold, in the order they ran.
    not_defined : tuple of (str, str)
        ``(hook, note)`` for each optional hook the operator does not define
        (``parameter_count``, ``flops``, ``to()``): the laws that need it
        were skipped, which is not a failure.
    """

    operator: str
    laws: tuple[str, ...]
    not_defined: tuple[tuple[str, str], ...]

    def __repr__(self) -> str:
        skipped = ", ".join(hook for hook, _ in self.not_defined)
        tail = f"; not defined: {skipped}" if skipped else ""
        return f"CheckReport({len(self.laws)} laws hold{tail})"


def _check_arguments(rtol: Any, seed: Any) -> int:
    what = "check_linear_operator"
    if rtol is not None:
        if isinstance(rtol, bool) or not isinstance(rtol, numbers.Real):
            msg = f"{what}: rtol must be None or a number in [0, 1), got {type(rtol).__name__} {rtol!r}"
            raise TypeError(msg)
        # rtol >= 1 accepts any result, even zero: a check that cannot fail
        if not (math.isfinite(float(rtol)) and 0 <= float(rtol) < 1):
            msg = f"{what}: rtol must be None or a number in [0, 1), got {rtol!r}"
            raise ValueError(msg)
    return integer(seed, "seed", what, low=0)


def check_linear_operator(
    op: LinearOperator, *, rtol: float | None = None, seed: int = 0
) -> CheckReport:
    r"""Check that ``op`` obeys every law of the operator contract.

    Parameters
    ----------
    op : LinearOperator
        The operator under test, of any backend and any of the four
        floating dtypes.
    rtol : float, optional
        Relative tolerance of every numerical law, in ``[0, 1)``. Default:
        ``structmat.testing.tolerance(op.dtype, max(m, n))`` (unit roundoff
        of the dtype times a safety factor times the square root of the size).
    seed : int
        Seed of the random test data (NumPy ``default_rng``), ``>= 0``.

    Returns
    -------
    CheckReport
        The laws that hold, and the optional hooks the operator does not
        define (``parameter_count``, ``flops``, ``to()``): a hook that raises
        ``NotImplementedError`` is reported as "not defined" and its laws
        are skipped, not failed. A minimal subclass (``__init__``,
        ``_matmat``, ``_rmatmat``) passes.

    Raises
    ------
    TypeError
        ``op`` is not a ``LinearOperator``, ``rtol`` is not a number or
        ``seed`` not an integer.
    ValueError
        ``rtol`` outside ``[0, 1)`` (a tolerance of 1 accepts any result) or
        a negative ``seed``.
    AssertionError
        On the first broken law, naming the law, the operator, the shapes
        involved and the relative error against the tolerance. An exception
        raised by the operator while a law runs becomes an ``AssertionError``
        naming the law (the original is chained as ``__cause__``).

    Notes
    -----
    Let :math:`D` be the dense oracle, column :math:`j` of which is
    ``op @ e_j``. Errors are measured norm-wise against the scale of the
    computation: for a product :math:`Y = A X` the law holds when
    :math:`\|Y - D X\|_F \le \mathrm{rtol}\,\|D\|_F \|X\|_F + (m + n + 1)\,
    \mathrm{tiny}` (``tiny`` the smallest normal number of the dtype: below it
    there is no relative accuracy). The laws:

    - attributes: ``shape`` is a pair of ints, ``dtype`` is float32, float64,
      complex64 or complex128 of ``op.xp``; ``parameter_count`` and
      ``flops(k)`` are non-negative ints (where defined); ``repr`` works;
    - every result has the expected shape, dtype, namespace and device;
    - ``to_dense()`` equals :math:`D`;
    - ``op @ x`` for ``x`` of shape ``(n,)``, ``(n, k)``, ``(b, n, k)`` and
      ``(2, b, n, k)``, ``matvec``, ``matmat`` and ``x @ op``
      (``op.__rmatmul__``) agree with :math:`D`;
    - adjoint dot test with complex data,
      :math:`\langle y, A x\rangle = \langle A^H y, x\rangle`, and, for a
      real operator, with real data as well;
    - ``op.H``, ``op.T``, ``op.conj()`` equal :math:`\bar D^T`, :math:`D^T`,
      :math:`\bar D` (densely and applied), ``rmatvec``/``rmatmat`` equal
      :math:`\bar D^T y`, and ``op.H.H``, ``op.T.T`` give ``op`` back;
    - ``(op @ op.H).H`` equals :math:`D D^H`, and is the ``Product`` of the
      factors' adjoints in reverse order when ``op @ op.H`` is a
      ``Product``; ``(c * op).H`` equals :math:`\bar c D^H`; ``op + op``
      equals :math:`2 D`;
    - dtypes: input of ``op.dtype`` gives ``op.dtype`` (float32 stays
      float32); a real operator on complex input gives the complex dtype of
      its precision; a complex operator on real input gives its own dtype;
      integer input is taken as ``op.dtype``; an operator with a weak
      double-precision dtype (``op.weak_dtype``) on float32 input gives
      single precision (complex64 when complex);
    - ``op.to(dtype=<complex dtype>)`` equals :math:`D` (where defined:
      ``to()`` needs the optional ``_map``).

    Examples
    --------
    >>> import numpy as np, structmat as sm
    >>> from structmat.testing import check_linear_operator
    >>> check_linear_operator(sm.Dense(np.arange(6.0).reshape(2, 3)))  # doctest: +ELLIPSIS
    CheckReport(... laws hold)
    >>> class Broken(sm.Dense):
    ...     def _adjoint(self):  # forgets the conjugate
    ...         return sm.Dense(self.A.T)
    >>> check_linear_operator(Broken(np.array([[1j, 2.0], [0.0, 1.0]])))
    Traceback (most recent call last):
    ...
    AssertionError: check_linear_operator(Broken(2x2, complex128)): law 'adjoint dot test ...
    """
    seed = _check_arguments(rtol, seed)
    checker = _Checker(op, rtol, seed)
    checker.run()
    return CheckReport(
        operator=_describe(op),
        laws=tuple(checker.held),
        not_defined=tuple(checker.not_defined.items()),
    )


def _describe(op: Any) -> str:
    text = repr(op)
    return text if len(text) <= 160 else text[:157] + "..."


class _Checker:
    """One run of the laws on one operator; holds the oracle and the data."""

    def __init__(self, op: Any, rtol: float | None, seed: int) -> None:
        if not isinstance(op, LinearOperator):
            msg = (
                f"check_linear_operator expects a structmat LinearOperator, got {type(op).__name__}"
            )
            raise TypeError(msg)
        self.op = op
        self.ctx = f"check_linear_operator({_describe(op)})"
        self.rng = np.random.default_rng(seed)
        self.rtol = rtol
        self.D: np.ndarray = np.zeros((0, 0))
        self.held: dict[str, None] = {}  # laws that hold, in order (a dict: no repeats)
        self.not_defined: dict[str, str] = {}

    # ------------------------------------------------------------------ reporting
    def fail(self, law: str, detail: str) -> None:
        msg = f"{self.ctx}: law '{law}' failed: {detail}"
        raise AssertionError(msg)

    def optional(self, hook: str, fn: Callable[..., Any], *args: Any) -> Any:
        """Run an optional hook; ``NotImplementedError`` records it as not defined."""
        try:
            return fn(*args)
        except NotImplementedError as exc:
            self.not_defined[hook] = f"not defined ({exc})" if str(exc) else "not defined"
            return _NOT_DEFINED
        except AssertionError:
            raise
        except Exception as exc:
            msg = f"{self.ctx}: law '{hook}' raised {type(exc).__name__}: {exc}"
            raise AssertionError(msg) from exc

    def attempt(self, law: str, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(*args)``; an exception other than AssertionError fails ``law``."""
        try:
            return fn(*args)
        except AssertionError:
            raise
        except Exception as exc:
            msg = f"{self.ctx}: law '{law}' raised {type(exc).__name__}: {exc}"
            raise AssertionError(msg) from exc

    def check_array(self, law: str, y: Any, shape: tuple[int, ...], dtype: Any) -> None:
        """``y`` is an array of ``op.xp`` on ``op.device`` with ``shape`` and ``dtype``."""
        op = self.op
        try:
            xp = aa.namespace_of(y)
        except TypeError:
            self.fail(law, f"result is a {type(y).__name__}, expected an array of {self.xp_name}")
        if xp is not op.xp:
            self.fail(
                law,
                f"result is in namespace {aa.namespace_name(xp)}, expected {self.xp_name} "
                "(the operator's namespace)",
            )
        if tuple(y.shape) != shape:
            self.fail(law, f"result has shape {tuple(y.shape)}, expected {shape}")
        if y.dtype != dtype:
            self.fail(
                law,
                f"result has dtype {aa.dtype_name(y.dtype)}, expected {aa.dtype_name(dtype)}",
            )
        device = aa.device_of(y)
        if device != op.device:
            self.fail(law, f"result is on device {device!r}, expected {op.device!r}")

    def close(self, law: str, actual: Any, desired: np.ndarray, scale: float, shapes: str) -> None:
        """``||actual - desired||_F <= rtol * scale``, reported as a relative error."""
        a = to_numpy(actual).astype(np.complex128)
        if a.shape != desired.shape:
            self.fail(law, f"{shapes}: result has shape {a.shape}, expected {desired.shape}")
        err = float(np.linalg.norm((a - desired).ravel()))
        scale = max(scale, _TINY)
        if not err <= self.tol * scale + self.floor:
            self.fail(
                law,
                f"{shapes}: relative error {err / scale:.3g} > tolerance {self.tol:.3g} "
                f"(absolute error {err:.3g}, scale {scale:.3g})",
            )
        self.held[law] = None

    # ------------------------------------------------------------------ data
    def data(self, shape: tuple[int, ...], dtype: Any) -> tuple[Any, np.ndarray]:
        """Random array of ``shape`` and ``dtype`` in the operator's namespace, and its NumPy copy."""
        op = self.op
        a = self.rng.standard_normal(shape)
        if aa.is_complex(op.xp, dtype):
            a = a + 1j * self.rng.standard_normal(shape)
        x = aa.to_namespace(np.asarray(a), op.xp, op.device)
        x = op.xp.astype(x, dtype)
        return x, to_numpy(x).astype(np.complex128)

    def apply_scale(self, M: np.ndarray, X: np.ndarray) -> float:
        return float(np.linalg.norm(M)) * float(np.linalg.norm(X.ravel()))

    # ------------------------------------------------------------------ the laws
    def run(self) -> None:
        self.attributes()
        self.oracle()
        self.to_dense()
        self.apply()
        self.dtypes()
        self.adjoint_dot()
        self.adjoint_transpose_conj()
        self.rmatmul()
        self.structure()
        self.conversion()

    def attributes(self) -> None:
        op = self.op
        law = "attributes"
        shape = op.shape
        if not (
            isinstance(shape, tuple)
            and len(shape) == 2
            and all(isinstance(s, int) and s >= 0 for s in shape)
        ):
            self.fail(law, f"shape must be a tuple of two non-negative ints, got {shape!r}")
        self.m, self.n = shape
        xp = op.xp
        self.xp_name = aa.namespace_name(xp)
        try:
            aa.check_floating_dtype(xp, op.dtype, "the operator")
        except TypeError as exc:
            self.fail(law, str(exc))
        self.complex = aa.is_complex(xp, op.dtype)
        self.cdtype = aa.complex_dtype(xp, op.dtype)
        self.rdtype = aa.real_dtype(xp, op.dtype)
        self.tol = (
            self.rtol if self.rtol is not None else tolerance(op.dtype, max(self.m, self.n, 1))
        )
        # Absolute floor: results at the underflow threshold of the dtype carry
        # no relative accuracy (subnormals), so errors below it count as zero.
        self.floor = float(xp.finfo(op.dtype).smallest_normal) * (self.m + self.n + 1)
        self.held[law] = None
        count = self.optional("parameter_count", lambda: op.parameter_count)
        if count is not _NOT_DEFINED:
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                self.fail("parameter_count", f"expected a non-negative int, got {count!r}")
            self.held["parameter_count"] = None
        for k in (1, 3):
            fl = self.optional("flops", op.flops, k)
            if fl is _NOT_DEFINED:
                break
            if isinstance(fl, bool) or not isinstance(fl, int) or fl < 0:
                self.fail("flops", f"flops({k}) must be a non-negative int, got {fl!r}")
        else:
            self.held["flops"] = None
        text = self.attempt("repr", lambda: repr(op))
        if not isinstance(text, str) or not text:
            self.fail("repr", f"repr must be a non-empty string, got {text!r}")
        self.held["repr"] = None

    def oracle(self) -> None:
        """Column ``j`` of the oracle is ``op @ e_j``."""
        op, m, n = self.op, self.m, self.n
        law = "dense oracle: op @ e_j has shape (m,)"
        xp = op.xp
        cols = np.zeros((m, n), dtype=np.complex128)
        eye = xp.eye(n, dtype=op.dtype, device=op.device) if n else None
        for j in range(n):
            e = eye[:, j]  # type: ignore[index]
            y = self.attempt(law, op.__matmul__, e)
            self.check_array(law, y, (m,), op.dtype)
            cols[:, j] = to_numpy(y)
        if not np.all(np.isfinite(cols)):
            self.fail(law, "op @ e_j has non-finite entries")
        self.D = cols
        self.normD = float(np.linalg.norm(cols))
        self.held[law] = None

    def to_dense(self) -> None:
        op, D = self.op, self.D
        law = "to_dense() == [op @ e_0, ..., op @ e_{n-1}]"
        dense = self.attempt(law, op.to_dense)
        self.check_array(law, dense, (self.m, self.n), op.dtype)
        self.close(law, dense, D, self.normD, f"A {op.shape}")

    def apply(self) -> None:
        op, D, m, n = self.op, self.D, self.m, self.n
        k, b = 3, 2
        cases: list[tuple[str, tuple[int, ...], Callable[[Any], Any]]] = [
            ("op @ x (vector)", (n,), lambda x: op @ x),
            ("op.matvec(x)", (n,), op.matvec),
            ("op @ X (matrix)", (n, k), lambda x: op @ x),
            ("op.matmat(X)", (n, k), op.matmat),
            ("op @ X (batch (b, n, k))", (b, n, k), lambda x: op @ x),
            ("op @ X (batch (2, b, n, k))", (2, b, n, k), lambda x: op @ x),
        ]
        for law, shape, fn in cases:
            x, xn = self.data(shape, op.dtype)
            y = self.attempt(law, fn, x)
            want = (m, *shape[1:]) if len(shape) <= 2 else (*shape[:-2], m, k)
            self.check_array(law, y, want, op.dtype)
            desired = D @ xn if len(shape) <= 2 else np.matmul(D, xn)
            self.close(law, y, desired, self.apply_scale(D, xn), f"A {op.shape}, x {shape}")

    def rmatmul(self) -> None:
        op, D, m, n = self.op, self.D, self.m, self.n
        k, b = 3, 2
        # x @ op through __rmatmul__ (array_api_strict arrays do not defer, so call it)
        for shape in ((m,), (k, m), (b, k, m)):
            law = f"x @ op (op.__rmatmul__), x of shape {shape}"
            x, xn = self.data(shape, op.dtype)
            y = self.attempt(law, op.__rmatmul__, x)
            self.check_array(law, y, (*shape[:-1], n), op.dtype)
            self.close(law, y, xn @ D, self.apply_scale(D, xn), f"x {shape} @ A {op.shape}")

    def dtypes(self) -> None:
        op, D, m, n = self.op, self.D, self.m, self.n
        xp = op.xp
        if self.complex:
            law = "complex operator on real input gives the operator's dtype"
            x, xn = self.data((n, 2), self.rdtype)
            y = self.attempt(law, lambda: op @ x)
            self.check_array(law, y, (m, 2), op.dtype)
        else:
            law = "real operator on complex input gives the complex dtype of its precision"
            x, xn = self.data((n, 2), self.cdtype)
            y = self.attempt(law, lambda: op @ x)
            self.check_array(law, y, (m, 2), self.cdtype)
        self.close(law, y, D @ xn, self.apply_scale(D, xn), f"A {op.shape}, x {(n, 2)}")
        if getattr(op, "weak_dtype", False) and op.dtype in (xp.float64, xp.complex128):
            self.weak_dtype()
        law = "integer input is taken as the operator's dtype"
        xi_np = self.rng.integers(-3, 4, size=(n, 2))
        xi = self.attempt(law, lambda: aa.to_namespace(xi_np, xp, op.device))
        y = self.attempt(law, lambda: op @ xi)
        self.check_array(law, y, (m, 2), op.dtype)
        self.close(law, y, D @ xi_np, self.apply_scale(D, xi_np), f"A {op.shape}, x {(n, 2)}")

    def weak_dtype(self) -> None:
        """A weak double-precision operator on float32 input: single precision out."""
        op, D, m, n = self.op, self.D, self.m, self.n
        xp = op.xp
        law = "a weak dtype gives the input's precision (float32 in: single out)"
        x, xn = self.data((n, 2), xp.float32)
        y = self.attempt(law, lambda: op @ x)
        self.check_array(law, y, (m, 2), xp.complex64 if self.complex else xp.float32)
        err = float(np.linalg.norm(to_numpy(y).astype(np.complex128) - D @ xn))
        tol = tolerance("float32", max(m, n, 1)) * max(self.apply_scale(D, xn), _TINY)
        if not err <= tol + self.floor:
            self.fail(law, f"A {op.shape}: absolute error {err:.3g} > tolerance {tol:.3g}")
        self.held[law] = None

    def adjoint_dot(self) -> None:
        op, m, n = self.op, self.m, self.n
        dtypes = [self.cdtype] if self.complex else [self.cdtype, op.dtype]
        for dtype in dtypes:
            kind = "complex" if aa.is_complex(op.xp, dtype) else "real"
            law = f"adjoint dot test <y, A x> == <A^H y, x> ({kind} data)"
            x, xn = self.data((n,), dtype)
            y, yn = self.data((m,), dtype)
            Ax = self.attempt(law, op.__matmul__, x)
            AHy = self.attempt(law, _adjoint_apply, op, y)
            self.check_array(law, Ax, (m,), dtype)
            self.check_array(law, AHy, (n,), dtype)
            lhs = np.vdot(yn, to_numpy(Ax))
            rhs = np.vdot(to_numpy(AHy), xn)
            scale = self.normD * float(np.linalg.norm(xn)) * float(np.linalg.norm(yn))
            err = abs(lhs - rhs)
            if not err <= self.tol * max(scale, _TINY) + self.floor:
                self.fail(
                    law,
                    f"A {op.shape}, x {(n,)}, y {(m,)}: <y, Ax> = {complex(lhs):.6g} but "
                    f"<A^H y, x> = {complex(rhs):.6g}; relative error "
                    f"{err / max(scale, _TINY):.3g} > tolerance {self.tol:.3g}",
                )
            self.held[law] = None

    def adjoint_transpose_conj(self) -> None:
        op, D, m, n = self.op, self.D, self.m, self.n
        k = 2
        forms = (
            ("H", lambda: op.H, D.conj().T),
            ("T", lambda: op.T, D.T),
            ("conj()", lambda: op.conj(), D.conj()),
        )
        for name, get, M in forms:
            law = f"op.{name}"
            B = self.attempt(law, get)
            if not isinstance(B, LinearOperator):
                self.fail(law, f"expected a LinearOperator, got {type(B).__name__}")
            if B.shape != M.shape:
                self.fail(law, f"op.{name} has shape {B.shape}, expected {M.shape}")
            if B.dtype != op.dtype:
                self.fail(
                    law,
                    f"op.{name} has dtype {aa.dtype_name(B.dtype)}, expected "
                    f"{aa.dtype_name(op.dtype)}",
                )
            if B.xp is not op.xp:
                self.fail(
                    law,
                    f"op.{name} is in namespace {aa.namespace_name(B.xp)}, expected {self.xp_name}",
                )
            law_d = f"op.{name}.to_dense() == {_FORMULA[name]}"
            dense = self.attempt(law_d, B.to_dense)
            self.check_array(law_d, dense, M.shape, op.dtype)
            self.close(law_d, dense, M, self.normD, f"A {op.shape}")
            law_a = f"op.{name} @ X == {_FORMULA[name]} @ X"
            X, Xn = self.data((M.shape[1], k), op.dtype)
            Y = self.attempt(law_a, B.__matmul__, X)
            self.check_array(law_a, Y, (M.shape[0], k), op.dtype)
            self.close(law_a, Y, M @ Xn, self.apply_scale(M, Xn), f"A {op.shape}, X {X.shape}")
        # rmatvec / rmatmat
        for law, shape, fn in (
            ("op.rmatvec(y) == conj(A).T @ y", (m,), op.rmatvec),
            ("op.rmatmat(Y) == conj(A).T @ Y", (m, k), op.rmatmat),
        ):
            y, yn = self.data(shape, op.dtype)
            r = self.attempt(law, fn, y)
            self.check_array(law, r, (n, *shape[1:]), op.dtype)
            self.close(law, r, D.conj().T @ yn, self.apply_scale(D, yn), f"A {op.shape}, y {shape}")
        # involutions
        for name, get in (("H.H", lambda: op.H.H), ("T.T", lambda: op.T.T)):
            law = f"op.{name} gives op back"
            B = self.attempt(law, get)
            if B is not op:
                dense = self.attempt(law, B.to_dense)
                self.check_array(law, dense, (m, n), op.dtype)
                self.close(law, dense, D, self.normD, f"A {op.shape}")
            self.held[law] = None

    def structure(self) -> None:
        op, D, m = self.op, self.D, self.m
        # (A A^H)^H = A A^H, structurally the reversed product of adjoints.
        law = "(op @ op.H).H == A A^H"
        P = self.attempt(law, lambda: op @ op.H)
        if P.shape != (m, m):
            self.fail(law, f"op @ op.H has shape {P.shape}, expected {(m, m)}")
        PH = self.attempt(law, lambda: P.H)
        if isinstance(P, Product):
            law_s = "(A_1 @ ... @ A_p).H is Product(A_p.H, ..., A_1.H) (flattened)"
            if not isinstance(PH, Product):
                self.fail(law_s, f"got {type(PH).__name__}, expected a Product")
            want: list[LinearOperator] = []
            for f in reversed(P.factors):
                fh = f.H
                want.extend(fh.factors if isinstance(fh, Product) else (fh,))
            if len(PH.factors) != len(want) or any(
                a is not b for a, b in zip(PH.factors, want, strict=False)
            ):
                self.fail(
                    law_s,
                    f"factors {[_describe(f) for f in PH.factors]}, expected "
                    f"{[_describe(f) for f in want]}",
                )
            self.held[law_s] = None
        DDH = D @ D.conj().T
        Y, Yn = self.data((m, 2), op.dtype)
        R = self.attempt(law, lambda: PH @ Y)
        self.check_array(law, R, (m, 2), op.dtype)
        scale = self.normD**2 * float(np.linalg.norm(Yn))
        self.close(law, R, DDH @ Yn, scale, f"A {op.shape}, Y {(m, 2)}")
        # (c A)^H = conj(c) A^H with a complex scalar
        c = 0.5 - 2j
        law = "(c * op).H == conj(c) * A^H, c complex"
        S = self.attempt(law, lambda: c * op)
        if S.dtype != self.cdtype:
            self.fail(
                law,
                f"(c * op).dtype is {aa.dtype_name(S.dtype)}, expected "
                f"{aa.dtype_name(self.cdtype)} for complex c",
            )
        y, yn = self.data((m,), self.cdtype)
        r = self.attempt(law, lambda: S.H @ y)
        self.check_array(law, r, (self.n,), self.cdtype)
        want_r = np.conj(c) * (D.conj().T @ yn)
        self.close(law, r, want_r, abs(c) * self.apply_scale(D, yn), f"A {op.shape}, y {(m,)}")
        # A + A = 2 A
        law = "op + op == 2 A"
        S2 = self.attempt(law, lambda: op + op)
        x, xn = self.data((self.n, 2), op.dtype)
        r = self.attempt(law, lambda: S2 @ x)
        self.check_array(law, r, (m, 2), op.dtype)
        self.close(law, r, 2 * (D @ xn), 2 * self.apply_scale(D, xn), f"A {op.shape}, x {x.shape}")

    def conversion(self) -> None:
        op = self.op
        law = "op.to(dtype=<complex>) == A"
        C = self.optional("to()", lambda: op.to(dtype=self.cdtype))
        if C is _NOT_DEFINED:
            return
        if C.dtype != self.cdtype or C.xp is not op.xp or C.shape != op.shape:
            self.fail(
                law,
                f"got shape {C.shape}, dtype {aa.dtype_name(C.dtype)}, namespace "
                f"{aa.namespace_name(C.xp)}; expected {op.shape}, "
                f"{aa.dtype_name(self.cdtype)}, {self.xp_name}",
            )
        dense = self.attempt(law, C.to_dense)
        self.check_array(law, dense, op.shape, self.cdtype)
        self.close(law, dense, self.D, self.normD, f"A {op.shape}")


def _adjoint_apply(op: LinearOperator, y: Any) -> Any:
    return op.H @ y


_FORMULA = {"H": "conj(A).T", "T": "A.T", "conj()": "conj(A)"}
