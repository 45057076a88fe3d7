r"""Kronecker-sparse (KS) factors and chains: operators, multiply, projection, chain builders.

A KS factor with pattern ``(a, b, c, d)`` has support
:math:`I_a \otimes 1_{b \times c} \otimes I_d`, shape ``(a*b*d, a*c*d)`` and
values ``T`` of shape ``(a, b, c, d)``:

.. math::

    F[i b d + j d + l,\; i c d + k d + l] = T[i, j, k, l].

Monarch, butterfly, block-diagonal and ``I ⊗ B ⊗ I`` matrices are products of
such factors (docs/conventions.md):

- butterfly level ``l`` (stride ``s``, radix ``b``) is ``KS(n/(b s), b, b, s)``;
- Monarch is ``KS(1, s, K*r, J) · KS(K, r*J, p, 1)``;
- block-diagonal is ``KS(k, m, n, 1)``; low rank is ``KS(1, m, r, 1) · KS(1, r, n, 1)``.

Chains (lists of patterns) are written **leftmost first**, as the matrix
product reads. The package holds one idea per module:

- ``_patterns``: pattern checks, shapes and the chain builders
  (:func:`square_dyadic`, :func:`mixed_radix`, :func:`monarch`, :func:`chainable`);
- ``_multiply``: :func:`ks_matmat`, :func:`ks_rmatmat`, :func:`ks_to_dense`,
  :func:`ks_blocked` and :func:`ks_chain_matmat` (one batched matmul per
  factor, on any array-API namespace);
- ``_tiled``: the NumPy chain driver (column tiles, worker threads, scratch buffers);
- ``_fuse``: runs of consecutive factors whose product is one KS factor, and
  its values (what :class:`KSChain` multiplies through);
- ``_project``: the exact two-factor projection :func:`ks_project_two` and
  its certified error :func:`ks_project_two_error`;
- ``_chain_project``: :func:`ks_project_chain`, the projection onto a
  user-given chain (left-to-right hierarchy);
- ``_sketch``: the matrix-free (randomized) two-factor projection
  :func:`ks_project_two_sketched` for operators;
- ``_operators``: :class:`KSFactor` and :class:`KSChain`.

References
----------
.. [1] Q.-T. Le, L. Zheng, E. Riccietti, R. Gribonval, "Butterfly
   factorization with error guarantees", arXiv:2411.04506 (2024).
.. [2] L. Zheng, E. Riccietti, R. Gribonval, "Efficient identification of
   butterfly sparse matrix factorizations", SIAM J. Math. Data Sci. 5 (2023).
"""

from structmat.ks._chain_project import ks_project_chain
from structmat.ks._multiply import ks_blocked, ks_chain_matmat, ks_matmat, ks_rmatmat, ks_to_dense
from structmat.ks._operators import KSChain, KSFactor
from structmat.ks._patterns import (
    chain_shape,
    chainable,
    ks_shape,
    mixed_radix,
    monarch,
    square_dyadic,
)
from structmat.ks._project import ks_project_two, ks_project_two_error
from structmat.ks._sketch import ks_project_two_sketched

__all__ = [
    "KSChain",
    "KSFactor",
    "chain_shape",
    "chainable",
    "ks_blocked",
    "ks_chain_matmat",
    "ks_matmat",
    "ks_project_chain",
    "ks_project_two",
    "ks_project_two_error",
    "ks_project_two_sketched",
    "ks_rmatmat",
    "ks_shape",
    "ks_to_dense",
    "mixed_radix",
    "monarch",
    "square_dyadic",
]
