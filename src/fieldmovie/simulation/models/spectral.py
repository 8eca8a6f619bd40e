"""Wave numbers, transforms and the resolution measure for periodic grids."""

from __future__ import annotations

import numpy as np

from .fft import make_fft
from .grid import Grid

__all__ = ["SpectralOperators", "low_pass", "smooth_random_field", "spectral_tail"]


class SpectralOperators:
    """Wave numbers and real FFT transforms for a periodic :class:`Grid`.

    Uses the ``numpy.fft.rfftn`` layout: all axes but the last are full-length, the
    last has ``n // 2 + 1`` entries.  Transforms act on the trailing ``grid.dim``
    axes, so a stacked state of shape ``(n_components, *grid.shape)`` is
    transformed in one call.

    Parameters
    ----------
    grid:
        The periodic grid.
    fft:
        FFT backend: ``"numpy"`` (default), ``"fftw"`` (planned pyFFTW) or ``"auto"``
        (``fftw`` when pyFFTW is installed).  ``fft_backend`` says which one is used.

    Attributes
    ----------
    fft:
        The backend object (also makes plans on caller-owned buffers, see :mod:`.fft`).
    k:
        Per-axis angular wave numbers ``2 pi m / L``, shaped for broadcasting
        against the spectral array (read-only).
    k2:
        ``|k|^2`` with the spectral shape (read-only).
    """

    def __init__(self, grid: Grid, fft: str = "numpy") -> None:
        self.grid = grid
        self.axes: tuple[int, ...] = tuple(range(-grid.dim, 0))
        self.spectral_shape: tuple[int, ...] = grid.shape[:-1] + (grid.shape[-1] // 2 + 1,)
        self.fft = self._fft = make_fft(grid.shape, fft)
        self.fft_backend: str = self._fft.name
        k: list[np.ndarray] = []
        for axis, (n, dx) in enumerate(zip(grid.shape, grid.spacing, strict=True)):
            last = axis == grid.dim - 1
            freq = np.fft.rfftfreq(n, d=dx) if last else np.fft.fftfreq(n, d=dx)
            view_shape = [1] * grid.dim
            view_shape[axis] = freq.size
            kk = (2.0 * np.pi * freq).reshape(view_shape)
            kk.flags.writeable = False
            k.append(kk)
        self.k: tuple[np.ndarray, ...] = tuple(k)
        k2 = np.zeros(self.spectral_shape)
        for kk in self.k:
            k2 = k2 + kk**2
        k2.flags.writeable = False
        self.k2: np.ndarray = k2

    def forward(self, u: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Real FFT over the trailing spatial axes (same layout as ``np.fft.rfftn``)."""
        return self._fft.forward(u, out)

    def inverse(self, u_hat: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Inverse of :meth:`forward` (float64 with the grid shape); ``u_hat`` is kept."""
        return self._fft.inverse(u_hat, out)

    def ik(self, axis: int) -> np.ndarray:
        """First-derivative multiplier ``i k`` along ``axis`` (Nyquist mode zeroed)."""
        kk = np.array(self.k[axis], dtype=float)
        n = self.grid.shape[axis]
        if n % 2 == 0:
            # The Nyquist mode of an odd derivative is not representable; zero it.
            index = [0] * self.grid.dim
            index[axis] = slice(None)
            kk[tuple(index)][n // 2] = 0.0
        return 1j * kk

    def integer_modes(self) -> list[np.ndarray]:
        """Integer mode numbers ``m`` (``k = 2 pi m / L``) per axis, broadcastable."""
        return [kk * (L / (2.0 * np.pi)) for kk, L in zip(self.k, self.grid.length, strict=True)]

    def high_band(self, fraction: float = 2.0 / 3.0) -> np.ndarray:
        """Mask of the modes with ``max_i |m_i| / (n_i / 2) > fraction`` (spectral shape)."""
        mask = np.zeros(self.spectral_shape, dtype=bool)
        for m, n in zip(self.integer_modes(), self.grid.shape, strict=True):
            mask = mask | (np.abs(m) > fraction * (n / 2.0) + 1e-9)
        return mask

    def rfft_weights(self) -> np.ndarray:
        """Multiplicity of each stored mode in the full spectrum (2 for the mirrored half)."""
        n = self.grid.shape[-1]
        w = np.full(self.spectral_shape[-1], 2.0)
        w[0] = 1.0
        if n % 2 == 0:
            w[-1] = 1.0
        return np.broadcast_to(w, self.spectral_shape)


def spectral_tail(spectral: SpectralOperators, state: np.ndarray) -> np.ndarray:
    """Per component: the fraction of fluctuation energy in the highest third of modes.

    Energy is ``sum |u_hat(m)|^2`` over all modes but the mean; the highest third are the
    modes with ``max_i |m_i| > (2/3) n_i / 2`` on any axis (the band a 2/3-rule dealiasing
    would remove).  A field resolved by the grid has an exponentially small tail; a
    constant field has tail 0.
    """
    u_hat = spectral.forward(state)
    power = (u_hat.real**2 + u_hat.imag**2) * spectral.rfft_weights()
    power[(Ellipsis,) + (0,) * spectral.grid.dim] = 0.0
    axes = spectral.axes
    total = power.sum(axis=axes)
    high = np.where(spectral.high_band(), power, 0.0).sum(axis=axes)
    return np.divide(high, total, out=np.zeros_like(total), where=total > 0)


def smooth_random_field(grid: Grid, rng: np.random.Generator, max_mode: int) -> np.ndarray:
    """Zero-mean, unit-std random field of the Fourier modes ``|m_i| <= min(max_mode, n_i // 3)``.

    Draws a fixed number of normals (twice the spectral size) from ``rng``; always uses
    the numpy FFT so the initial state does not depend on the backend.
    """
    spec = SpectralOperators(grid)
    coeffs = rng.standard_normal(spec.spectral_shape) + 1j * rng.standard_normal(
        spec.spectral_shape
    )
    mask = np.ones(spec.spectral_shape, dtype=bool)
    for m, n in zip(spec.integer_modes(), grid.shape, strict=True):
        # never into the highest third of the grid's modes: the field stays resolved
        mask &= np.abs(m) <= min(max_mode, n // 3) + 1e-9
    mask[(0,) * grid.dim] = False
    field = spec.inverse(np.where(mask, coeffs, 0.0))
    field -= field.mean()
    std = field.std()
    if std > 0:
        field /= std
    return field


def low_pass(grid: Grid, field: np.ndarray) -> np.ndarray:
    """``field`` with the grid-scale modes removed smoothly (for resolved initial states).

    Multiplies the spectrum by ``exp(-180 kappa^8)`` with ``kappa = max_i |m_i| / (n_i / 2)``:
    modes below ``kappa = 0.3`` keep 99 %, the highest third (``kappa > 2/3``) loses all but
    ``e^-7`` of its amplitude.  Uses the numpy FFT, so the result does not depend on the
    backend.
    """
    spec = SpectralOperators(grid)
    kappa = np.zeros(spec.spectral_shape)
    for m, n in zip(spec.integer_modes(), grid.shape, strict=True):
        kappa = np.maximum(kappa, np.abs(m) / (n / 2.0))
    return spec.inverse(spec.forward(field) * np.exp(-180.0 * kappa**8))
