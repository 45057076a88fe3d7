"""``Monarch.project(A, method="randomized")``: the Monarch glue of the matrix-free sketch.

The sketch itself (:func:`structmat.ks._sketch.sketch_two`) knows only KS
patterns; this module pads the operator to ``(s*J, K*p)``, names the two
Monarch patterns and turns the KS values back into ``L`` and ``R``.
"""

from __future__ import annotations

from typing import Any

from structmat import _array_api as aa
from structmat._args import ceil_div, integer
from structmat._result import ProjectionResult
from structmat.ks._sketch import _as_operator, _check_args, sketch_two, sketched_result


def project_randomized(
    cls: type,
    A: Any,
    nblocks: Any,
    rank: Any,
    *,
    oversample: Any,
    seed: Any,
    error_probes: Any,
    adjoint: bool,
) -> ProjectionResult:
    """The sketched Monarch projection of ``A`` (of ``Aᴴ`` when ``adjoint``)."""
    from structmat.monarch import _check_rank, _parse_nblocks

    what = "Monarch.project_adjoint" if adjoint else "Monarch.project"
    what = f"{what}(method='randomized')"
    oversample, error_probes = _check_args(oversample, error_probes, what)
    op = _as_operator(A, what)
    if adjoint:
        op = op.H
    r = integer(rank, "rank", what)
    m, n = (int(d) for d in op.shape)
    if m < 1 or n < 1:
        msg = f"{what} expects a non-empty matrix, got shape {(m, n)}"
        raise ValueError(msg)
    K, J = _parse_nblocks(nblocks, (m, n), what)
    s, p = ceil_div(m, J), ceil_div(n, K)
    _check_rank(r, s, p, what)
    xp, dtype, dev = op.xp, op.dtype, op.device
    opH = op.H

    def pad(X: Any, rows: int) -> Any:
        extra = rows - int(X.shape[0])
        if not extra:
            return X
        zeros = xp.zeros((extra, int(X.shape[1])), dtype=X.dtype, device=aa.device_of(X))
        return xp.concat((X, zeros), axis=0)

    # A zero-padded to (s*J, K*p): the padded rows and columns are zero slices' entries.
    def mul(X: Any) -> Any:
        return pad(op @ X[:n, :], s * J)

    def rmul(Y: Any) -> Any:
        return pad(opH @ Y[:m, :], K * p)

    left, right = (1, s, K * r, J), (K, r * J, p, 1)
    TL, TR, err, norm, lower, products = sketch_two(
        mul,
        rmul,
        xp,
        dtype,
        dev,
        left,
        right,
        oversample=oversample,
        seed=seed,
        error_probes=error_probes,
        what=what,
    )
    L = xp.permute_dims(TL[0, ...], (2, 0, 1))  # T_L[0, sigma, gamma, j] = L[j, sigma, gamma]
    R = TR[..., 0]
    M = cls(L, R, shape=(m, n))
    params = {
        "nblocks": (K, J),
        "rank": r,
        "method": "randomized",
        "oversample": oversample,
        "seed": seed,
        "error_probes": error_probes,
        "products": products,
    }
    onto = "monarch_adjoint" if adjoint else "monarch"
    notes = "Aᴴ projected onto Monarch; the operator is its adjoint" if adjoint else ""
    return sketched_result(M.H if adjoint else M, err, norm, lower, onto, params, products, notes)
