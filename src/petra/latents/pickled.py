"""W+ codes pickled as numpy arrays (the thesis's ``latents/*.pkl``), read without running arbitrary pickles.

The released ``tool.py`` saves each ReStyle inversion with ``pickle.dump(latent, f)``: a
float32 numpy array [18, 512]. A plain ``pickle.load`` would execute whatever a file
names; :func:`read_pickled_latent` admits only the globals a numpy array needs and
refuses the rest with one line naming the file.
"""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from ..errors import InputError

try:  # numpy >= 1.26 names its core _core (numpy.core is the deprecated alias)
    from numpy._core.multiarray import _reconstruct
except ImportError:  # pragma: no cover - older numpy
    from numpy.core.multiarray import _reconstruct

_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"), ("numpy", "dtype"),
}


class _NumpyOnly(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"global {module}.{name} is not a numpy array part")
        return {"ndarray": np.ndarray, "dtype": np.dtype, "_reconstruct": _reconstruct}[name]


def read_pickled_latent(path: str | Path) -> np.ndarray:
    """A pickled numpy W+ code → float32 array [n_latent, 512] (InputError naming the file otherwise)."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            obj = _NumpyOnly(fh).load()
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as err:
        raise InputError(path, f"not a pickled numpy array ({err})") from None
    if not isinstance(obj, np.ndarray) or obj.ndim != 2 or obj.shape[1] != 512:
        raise InputError(path, f"expected a W+ array [n, 512], got {getattr(obj, 'shape', type(obj).__name__)}")
    return obj.astype(np.float32, copy=False)
