r"""Saving and loading operators; reading matrices from files without pickle.

:func:`save` writes an operator (or a :class:`~structmat.ProjectionResult`)
to a ``.npz`` or a ``.safetensors`` file, by the path's suffix: the factor
arrays, plus one JSON document that says how to rebuild the operator from
them. :func:`load` reads either back without pickle, so a file can never run
code.

:func:`read_matrices` reads the dense matrices the ``structmat`` command
works on, from ``.npy``, ``.npz`` and ``.safetensors`` files, also without
pickle.

Notes
-----
The JSON document is

.. code-block:: text

    {"format": "structmat-operator", "version": 1,
     "operator": NODE, "result": null or {error, norm, ..., onto, params}}
    NODE = {"class": "Monarch", "shape": [m, n], "dtype": "float64",
            "params": {...}, "arrays": {"L": "a0", "R": "a1"},
            "children": [NODE, ...]}

and the arrays it names are stored under those names:

* ``.npz``: the document as UTF-8 bytes in the ``uint8`` array
  ``__structmat__``, read with ``allow_pickle=False``.
* ``.safetensors``: the arrays are the file's tensors; the document is the
  metadata entry ``structmat``. Safetensors has no complex dtype, so a
  complex array of shape ``s`` is stored as its real and imaginary parts
  along a trailing axis of 2 (shape ``(*s, 2)``, float32 for complex64,
  float64 for complex128), and the metadata entry ``structmat.complex``
  lists those tensors as a JSON array of names; :func:`load` reassembles
  them bit for bit. Any safetensors reader (``safetensors.safe_open``,
  Hugging Face tooling) sees the tensors and the metadata.

A Butterfly of radix 2 stores its ``(L, n/2, 2, 2)`` twiddles as one array
``tw``; a mixed-radix one stores its radices as a parameter and one
``(n/b, b, b)`` array ``tw0, tw1, ...`` per level.

Every array is stored in NumPy form (operators on other backends are copied
to the host); :func:`load` rebuilds on NumPy, or on the namespace given by
``xp=``. The classes that can be saved are those in :data:`SAVABLE`.

A file is untrusted input. :func:`load` recognizes the container by its
first bytes as well as its suffix (a misnamed file is a
:class:`FileFormatError` saying what it is) and reads every field through
one layer of checked accessors, so a missing field, a value of the wrong
type or range, a wrong number of children or an array of the wrong kind
raises :class:`FileFormatError` naming the file, the operator's place in the
tree and the field (``'params.n' must be an integer >= 0, got string
'8'``); values a constructor refuses become a ``FileFormatError`` too.
Operators may nest :data:`MAX_DEPTH` (64) levels deep: the JSON text is
measured before it is parsed, so a file of 100,000 nested brackets is
refused without recursion, and :func:`save` refuses deeper operators so that
every file it writes loads. A ``Power`` exponent in a file is an integer in
``[0, MAX_FILE_EXPONENT]`` (``2**20``), checked here rather than by the
operator, so that the message names the file.

The package's modules: ``_containers`` (the ``.npz`` and ``.safetensors``
containers), ``_checked`` (the checked reader of the document), ``_classes``
(how each class is written and rebuilt), ``_tree`` (operator trees to and
from nodes), ``_operators`` (:func:`save`, :func:`load`, :func:`load_result`)
and ``_matrices`` (:func:`read_matrices`).

Examples
--------
>>> import os, tempfile, numpy as np, structmat as sm
>>> op = sm.Diagonal(np.arange(1.0, 4.0)) @ sm.Permutation(np.array([2, 0, 1]))
>>> path = os.path.join(tempfile.mkdtemp(), "op.npz")
>>> save(path, op)
>>> back = load(path)
>>> type(back).__name__, bool(np.array_equal(back.to_dense(), op.to_dense()))
('Product', True)
"""

from __future__ import annotations

from structmat.io._checked import MAX_DEPTH, FileFormatError
from structmat.io._classes import MAX_FILE_EXPONENT, SAVABLE
from structmat.io._matrices import _finite_float as _finite_float  # for the command line
from structmat.io._matrices import read_matrices
from structmat.io._operators import load, load_result, save
from structmat.io._tree import _class_name as _class_name  # for the tests
from structmat.io._tree import _decode as _decode

__all__ = [
    "MAX_DEPTH",
    "MAX_FILE_EXPONENT",
    "SAVABLE",
    "FileFormatError",
    "load",
    "load_result",
    "read_matrices",
    "save",
]

# tracebacks and pickles name the exception where users import it from
FileFormatError.__module__ = __name__
