"""Real FFTs over the trailing grid axes: a numpy backend and a planned pyFFTW backend.

Both backends use the ``numpy.fft.rfftn`` layout (all axes but the last full length, the
last ``n // 2 + 1`` long) and transform a stack ``(*batch, *grid.shape)`` in one call.
They agree to round-off (~1e-15 relative), not bit for bit, so a run must use one
backend throughout: :func:`resolve_backend` picks it deterministically from the request
and what is installed, and models record the name they use.

Besides the copying :meth:`forward`/:meth:`inverse`, each backend makes *plans* on arrays
the caller owns (:meth:`plan_r2c`, :meth:`plan_c2r`): unnormalised transforms that run
in place on those buffers without copies, for the integrators' inner loops.

FFTW plans are made with ``FFTW_ESTIMATE`` and one thread: ``FFTW_MEASURE`` would pick
the algorithm by timing, so two processes could round differently and a restarted
segment would not be bit-identical to an uninterrupted run.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

__all__ = ["BACKENDS", "FFTBackend", "FFTWBackend", "NumpyBackend", "make_fft", "resolve_backend"]

#: names accepted for the ``fft`` option
BACKENDS = ("auto", "numpy", "fftw")


# pyFFTW's package __init__ imports its scipy and dask interfaces when those libraries are
# installed: ~0.9 s of CPU per process (dask.array alone ~0.7 s), paid by every segment
# job. We only use pyfftw.FFTW and empty_aligned, so those two imports are made to fail
# while pyfftw loads; afterwards scipy and dask import normally.
_SKIPPED_BY_PYFFTW = ("dask.array", "scipy.fftpack")


def _pyfftw() -> Any | None:
    pyfftw = sys.modules.get("pyfftw")
    if pyfftw is not None:
        return pyfftw
    blocked = [m for m in _SKIPPED_BY_PYFFTW if m not in sys.modules]
    for m in blocked:
        sys.modules[m] = None  # type: ignore[assignment]  # import raises ImportError
    try:
        import pyfftw
    except ImportError:
        return None
    finally:
        for m in blocked:
            if m in sys.modules and sys.modules[m] is None:
                del sys.modules[m]
    return pyfftw


class FFTBackend(Protocol):
    """Forward/inverse real FFT over the trailing ``dim`` axes."""

    name: str

    def forward(self, u: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Real-to-complex transform of ``u`` (``out``: optional result array)."""
        ...

    def inverse(self, u_hat: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Inverse of :meth:`forward`; does not modify ``u_hat``."""
        ...

    def empty_real(self, batch: tuple[int, ...]) -> np.ndarray:
        """Uninitialised float64 array ``(*batch, *shape)`` suitable for plans."""
        ...

    def empty_spectral(self, batch: tuple[int, ...]) -> np.ndarray:
        """Uninitialised complex128 array ``(*batch, *spectral_shape)`` suitable for plans."""
        ...

    def spectral_buffer(self, batch: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
        """``(storage, view)``: a C-contiguous complex128 array in the backend's preferred
        mode order (:attr:`half_axis_first`) and the same memory viewed as
        ``(*batch, *spectral_shape)``, for plans. Elementwise work runs on ``storage``."""
        ...

    def plan_r2c(self, real: np.ndarray, spec: np.ndarray) -> Callable[[], None]:
        """A call that writes the unnormalised forward transform of ``real`` into ``spec``.

        ``real`` may be destroyed. Both arrays must come from :meth:`empty_real` /
        :meth:`empty_spectral` and stay alive as long as the plan.
        """
        ...

    def plan_c2r(self, spec: np.ndarray, real: np.ndarray) -> Callable[[], None]:
        """A call that writes the unnormalised inverse transform of ``spec`` into ``real``
        (``N`` times numpy's ``irfftn``); ``spec`` is kept."""
        ...


class NumpyBackend:
    """``numpy.fft`` axis by axis (``rfft`` then in-place ``fft``): faster than ``rfftn``
    for small grids. This is the transform path fieldmovie used before pyFFTW."""

    name = "numpy"

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape
        self.axes = tuple(range(-len(shape), 0))
        self.spectral_shape = shape[:-1] + (shape[-1] // 2 + 1,)

    def empty_real(self, batch: tuple[int, ...]) -> np.ndarray:
        return np.empty(batch + self.shape)

    def empty_spectral(self, batch: tuple[int, ...]) -> np.ndarray:
        return np.empty(batch + self.spectral_shape, dtype=np.complex128)

    half_axis_first = False

    def spectral_buffer(self, batch: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
        a = self.empty_spectral(batch)
        return a, a

    def plan_r2c(self, real: np.ndarray, spec: np.ndarray) -> Callable[[], None]:
        def r2c() -> None:
            np.fft.rfft(real, axis=-1, out=spec)
            for axis in self.axes[:-1]:
                np.fft.fft(spec, axis=axis, out=spec)

        return r2c

    def plan_c2r(self, spec: np.ndarray, real: np.ndarray) -> Callable[[], None]:
        n = self.shape[-1]

        scratch = np.empty_like(spec)

        def c2r() -> None:  # norm="forward": the inverse is not scaled
            a = spec
            for axis in self.axes[:-1]:
                a = np.fft.ifft(a, axis=axis, norm="forward", out=scratch)
            np.fft.irfft(a, n=n, axis=-1, norm="forward", out=real)

        return c2r

    def forward(self, u: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        a = np.fft.rfft(u, axis=-1, out=out)
        for axis in self.axes[:-1]:
            np.fft.fft(a, axis=axis, out=a)
        return a

    def inverse(self, u_hat: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        a = u_hat
        for i, axis in enumerate(self.axes[:-1]):
            a = np.fft.ifft(a, axis=axis) if i == 0 else np.fft.ifft(a, axis=axis, out=a)
        return np.fft.irfft(a, n=self.shape[-1], axis=-1, out=out)


class FFTWBackend:
    """Planned pyFFTW transforms (``FFTW_ESTIMATE``, one thread).

    :meth:`forward`/:meth:`inverse` keep one plan pair per batch shape and copy data into
    and out of its aligned buffers, so the caller's arrays are never aliased or destroyed
    (the complex-to-real transform destroys its input); :meth:`plan_r2c`/:meth:`plan_c2r`
    run on the caller's buffers without copies.
    """

    name = "fftw"

    def __init__(self, shape: tuple[int, ...]) -> None:
        pyfftw = _pyfftw()
        if pyfftw is None:
            raise ValueError(
                "fft backend 'fftw' needs pyFFTW: pip install pyfftw "
                "(or pip install 'fieldmovie[fftw]'); use fft: numpy or auto instead"
            )
        self._pyfftw = pyfftw
        self.shape = shape
        self.axes = tuple(range(-len(shape), 0))
        self.spectral_shape = shape[:-1] + (shape[-1] // 2 + 1,)
        self._scale = 1.0 / math.prod(shape)
        self.threads = 1  # see the module docstring
        self._plans: dict[tuple[int, ...], tuple[Any, ...]] = {}
        self._scratches: dict[tuple[int, ...], np.ndarray] = {}

    def empty_real(self, batch: tuple[int, ...]) -> np.ndarray:
        return self._pyfftw.empty_aligned(batch + self.shape, dtype="float64")

    def empty_spectral(self, batch: tuple[int, ...]) -> np.ndarray:
        return self._pyfftw.empty_aligned(batch + self.spectral_shape, dtype="complex128")

    @property
    def half_axis_first(self) -> bool:
        """Spectra of the integrators are stored with the half-length (last) mode axis
        first: the column passes then write and read contiguous transforms (7 % per
        ETDRK2 step at 256^2 with FFTW_ESTIMATE, nothing at 128^2)."""
        return len(self.shape) >= 2

    def spectral_buffer(self, batch: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
        if not self.half_axis_first:
            a = self.empty_spectral(batch)
            return a, a
        sp = self.spectral_shape
        storage = self._pyfftw.empty_aligned(batch + sp[-1:] + sp[:-1], dtype="complex128")
        return storage, np.moveaxis(storage, len(batch), -1)

    # The plans go axis by axis: the last axis real <-> complex, the others complex <->
    # complex out of place through a scratch array shared by the plans of one batch shape.
    # That is ~10 % faster than FFTW's own multi-dimensional plan at 256^2 (FFTW_ESTIMATE)
    # and lets the inverse keep its input (a multi-dimensional c2r plan cannot).
    def _scratch(self, batch: tuple[int, ...]) -> np.ndarray:
        scratch = self._scratches.get(batch)
        if scratch is None:
            scratch = self._scratches[batch] = self.empty_spectral(batch)
        return scratch

    def plan_r2c(self, real: np.ndarray, spec: np.ndarray) -> Callable[[], None]:
        pf, flags, threads = self._pyfftw, ("FFTW_ESTIMATE", "FFTW_DESTROY_INPUT"), self.threads
        if len(self.shape) == 1:
            return pf.FFTW(real, spec, axes=(-1,), flags=flags, threads=threads).execute
        scratch = self._scratch(real.shape[: real.ndim - len(self.shape)])
        rows = pf.FFTW(real, scratch, axes=(-1,), flags=flags, threads=threads).execute
        cols = pf.FFTW(scratch, spec, axes=self.axes[:-1], flags=flags, threads=threads).execute

        def r2c() -> None:
            rows()
            cols()

        return r2c

    def plan_c2r(self, spec: np.ndarray, real: np.ndarray) -> Callable[[], None]:
        pf, threads = self._pyfftw, self.threads
        destroy = ("FFTW_ESTIMATE", "FFTW_DESTROY_INPUT")
        scratch = self._scratch(spec.shape[: spec.ndim - len(self.shape)])
        rows = pf.FFTW(scratch, real, axes=(-1,), direction="FFTW_BACKWARD", flags=destroy,
                       threads=threads).execute  # fmt: skip
        if len(self.shape) == 1:

            def c2r_1d() -> None:
                np.copyto(scratch, spec)
                rows()

            return c2r_1d
        cols = pf.FFTW(spec, scratch, axes=self.axes[:-1], direction="FFTW_BACKWARD",
                       flags=("FFTW_ESTIMATE",), threads=threads).execute  # fmt: skip

        def c2r() -> None:
            cols()
            rows()

        return c2r

    def _plan(self, batch: tuple[int, ...]) -> tuple[Any, ...]:
        plan = self._plans.get(batch)
        if plan is None:
            pf = self._pyfftw
            real = pf.empty_aligned(batch + self.shape, dtype="float64")
            spec = pf.empty_aligned(batch + self.spectral_shape, dtype="complex128")
            flags = ("FFTW_ESTIMATE", "FFTW_DESTROY_INPUT")
            fwd = pf.FFTW(real, spec, axes=self.axes, flags=flags, threads=self.threads)
            inv = pf.FFTW(spec, real, axes=self.axes, direction="FFTW_BACKWARD", flags=flags,
                          threads=self.threads)  # fmt: skip
            plan = self._plans[batch] = (real, spec, fwd, inv)
        return plan

    def forward(self, u: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        real, spec, fwd, _ = self._plan(u.shape[: u.ndim - len(self.shape)])
        np.copyto(real, u)
        fwd.execute()
        if out is None:
            return spec.copy()
        np.copyto(out, spec)
        return out

    def inverse(self, u_hat: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        real, spec, _, inv = self._plan(u_hat.shape[: u_hat.ndim - len(self.shape)])
        np.copyto(spec, u_hat)
        inv.execute()  # unnormalised; numpy's ifft divides by the number of points
        return np.multiply(real, self._scale, out=out)


def resolve_backend(request: str) -> str:
    """The backend a run uses for ``request`` (``auto``: ``fftw`` if pyFFTW imports)."""
    if request not in BACKENDS:
        raise ValueError(f"fft backend {request!r} is not one of {', '.join(BACKENDS)}")
    if request == "auto":
        return "fftw" if _pyfftw() is not None else "numpy"
    return request


def make_fft(shape: tuple[int, ...], backend: str = "numpy") -> NumpyBackend | FFTWBackend:
    """FFT backend object for a grid of ``shape`` (``backend`` as for :func:`resolve_backend`)."""
    name = resolve_backend(backend)
    return FFTWBackend(shape) if name == "fftw" else NumpyBackend(shape)
