r"""Expressivity: classic transforms written exactly in the structured classes.

Every function returns a composite operator built only from :class:`Monarch`,
:class:`Butterfly`, :class:`~structmat.basic.Permutation` and
:class:`~structmat.basic.Diagonal` (with adjoints and scalars), from closed
forms: no SVD, no projection. Its ``to_dense()`` equals the reference matrix
to rounding (``1e-11`` relative in float64).

=========================  ===========================================  =============================
function                   returns                                      reference
=========================  ===========================================  =============================
``dft_as_monarch``         ``Product(Monarch, Permutation)``            ``numpy.fft.fft`` matrix
``idft_as_monarch``        ``Product(Monarch, Permutation)``            ``numpy.fft.ifft`` matrix
``hadamard_as_monarch``    ``Monarch``                                  ``scipy.linalg.hadamard``
``butterfly_to_monarch``   ``Monarch`` (``Adjoint`` for decreasing)     the butterfly
``dft_as_butterfly``       ``Product(Butterfly, Permutation)``          ``numpy.fft.fft`` matrix
``idft_as_butterfly``      ``Product(Butterfly, Permutation)``          ``numpy.fft.ifft`` matrix
``hadamard_as_butterfly``  ``Butterfly``                                ``scipy.linalg.hadamard``
``dct_as_butterfly``       ``P B P B P`` (two butterflies)              ``scipy.fft.dct(type=2)``
``circulant_as_monarch``   ``Product(Monarch, Adjoint(Monarch))``: MM*  ``scipy.linalg.circulant``
``toeplitz_as_monarch``    MM* with output truncation / input padding   ``scipy.linalg.toeplitz``
``convolution_as_monarch`` MM* as ``toeplitz_as_monarch``               ``numpy.convolve`` matrix
=========================  ===========================================  =============================

The index and exponent formulas (``_formulas.py``: ``_dft_monarch_*``,
``_butterfly_*``, ``_dct_*``, ``_hadamard_*``) are plain polynomial
functions of their index arguments: they evaluate on Python ints, NumPy
integer arrays and SymPy symbols alike. :mod:`structmat.symbolic` builds the
same constructions from these very functions with exact SymPy entries and
proves them, so the proof covers the code.

Real inputs (``circulant_as_monarch`` of a real ``c``, the DCT, ...): the
factors are complex, so the returned operator is complex; its dense matrix
equals the real reference to rounding (imaginary part at rounding level).
The complex operator is returned as is (no real-part wrapper): every
construction is an exact product of the structured classes.
"""

from structmat.constructions._butterfly import (
    dct_as_butterfly,
    dft_as_butterfly,
    hadamard_as_butterfly,
    idft_as_butterfly,
)
from structmat.constructions._convolution import (
    circulant_as_monarch,
    convolution_as_monarch,
    toeplitz_as_monarch,
)
from structmat.constructions._monarch import (
    butterfly_to_monarch,
    dft_as_monarch,
    hadamard_as_monarch,
    idft_as_monarch,
)

__all__ = [
    "butterfly_to_monarch",
    "circulant_as_monarch",
    "convolution_as_monarch",
    "dct_as_butterfly",
    "dft_as_butterfly",
    "dft_as_monarch",
    "hadamard_as_butterfly",
    "hadamard_as_monarch",
    "idft_as_butterfly",
    "idft_as_monarch",
    "toeplitz_as_monarch",
]
