"""Deterministic numpy PDE models for chunked ("segmented") simulation.

Every model integrates a PDE on a periodic grid with a spectral (FFT) method.  The
central contract is :meth:`Model.advance`: it is a *pure function* of
``(state, t0, t1, parameters, rng state)``.  The number of internal time steps is
derived only from ``t1 - t0`` and the model's maximum step ``dt_max``::

    n  = max(1, ceil((t1 - t0) / dt_max - 1e-9))
    dt = (t1 - t0) / n

so a simulation that is split into segments ``advance(s0, 0, 1)``,
``advance(s1, 1, 2)``, ... gives bit-identical results whether or not the process
was restarted between two segments, provided the restarted segment gets the saved
state and (for stochastic models) the saved ``rng.bit_generator.state``.

Note that the segment boundaries themselves matter: ``advance(s, 0, 2)`` is in
general *not* bit-identical to ``advance(advance(s, 0, 1), 1, 2)`` (different
step sizes / FFT round trips), so a runner must always split a run at the same
times.

Built-in models (see :data:`BUILTIN_MODELS`):

``diffusion``
    ``c_t = D lap(c)``; exact in Fourier space.
``noisy_diffusion``
    ``c_t = D lap(c) - decay c + sigma xi``; stochastic (additive noise).
``gray_scott``
    Gray-Scott reaction-diffusion (Pearson 1993), ETDRK2.
``cahn_hilliard``
    ``c_t = D lap(c^3 - c - gamma lap(c))``, stabilised ETDRK2.
``kuramoto_sivashinsky``
    ``u_t = -u u_x - u_xx - nu u_xxxx`` (1D), ETDRK4 (Kassam & Trefethen 2005).

Models do not check their output for non-finite values (the runner does).  For the
documented default parameters all built-in models stay finite.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

__all__ = [
    "BUILTIN_MODELS",
    "Grid",
    "Model",
    "SpectralOperators",
    "resolve_model",
]


# --------------------------------------------------------------------------- grid


@dataclass(frozen=True)
class Grid:
    """A periodic, uniform 1D/2D/3D grid.

    Parameters
    ----------
    shape:
        Number of grid points per axis, e.g. ``(128, 128)``.  Any sizes are allowed
        (non-square grids too); even sizes are fastest with the FFT.
    length:
        Physical side length of the periodic domain per axis (same length as
        ``shape``).  A single number is broadcast to all axes.
    """

    shape: tuple[int, ...]
    length: tuple[float, ...]

    def __post_init__(self) -> None:
        shape = (self.shape,) if isinstance(self.shape, int | np.integer) else self.shape
        try:
            shape_t = tuple(int(n) for n in shape)
        except TypeError as exc:
            raise ValueError(f"Grid shape must be a tuple of ints, got {self.shape!r}") from exc
        if not 1 <= len(shape_t) <= 3:
            raise ValueError(f"Grid must be 1D, 2D or 3D, got shape {shape_t}")
        if any(n < 1 for n in shape_t):
            raise ValueError(f"Grid shape entries must be >= 1, got {shape_t}")
        length = self.length
        if isinstance(length, int | float | np.integer | np.floating):
            length_t = (float(length),) * len(shape_t)
        else:
            length_t = tuple(float(x) for x in length)
        if len(length_t) != len(shape_t):
            raise ValueError(
                f"Grid length {length_t} must have one entry per axis of shape {shape_t}"
            )
        if not all(math.isfinite(x) and x > 0 for x in length_t):
            raise ValueError(f"Grid lengths must be finite and positive, got {length_t}")
        object.__setattr__(self, "shape", shape_t)
        object.__setattr__(self, "length", length_t)

    @property
    def dim(self) -> int:
        """Number of spatial dimensions (1, 2 or 3)."""
        return len(self.shape)

    @property
    def spacing(self) -> tuple[float, ...]:
        """Grid spacing ``length / n`` per axis."""
        return tuple(L / n for L, n in zip(self.length, self.shape, strict=True))

    def coordinates(self) -> list[np.ndarray]:
        """1D coordinate arrays, one per axis.

        These are *node* coordinates of the periodic domain ``[0, L)``:
        ``x_i = i * dx`` for ``i = 0, ..., n - 1`` (the point ``x = L`` is the same
        as ``x = 0``).  Use ``np.meshgrid(*grid.coordinates(), indexing="ij")`` for
        full coordinate arrays matching the state layout.
        """
        return [np.arange(n) * (L / n) for n, L in zip(self.shape, self.length, strict=True)]


# ------------------------------------------------------------------ spectral tools


class SpectralOperators:
    """Wave numbers and real FFT transforms for a periodic :class:`Grid`.

    Uses the ``numpy.fft.rfftn`` layout: all axes but the last are full-length, the
    last has ``n // 2 + 1`` entries.  Transforms act on the trailing ``grid.dim``
    axes, so a stacked state of shape ``(n_components, *grid.shape)`` is
    transformed in one call.

    Attributes
    ----------
    k:
        Per-axis angular wave numbers ``2 pi m / L``, shaped for broadcasting
        against the spectral array (read-only).
    k2:
        ``|k|^2`` with the spectral shape (read-only).
    """

    def __init__(self, grid: Grid) -> None:
        self.grid = grid
        self.axes: tuple[int, ...] = tuple(range(-grid.dim, 0))
        self.spectral_shape: tuple[int, ...] = grid.shape[:-1] + (grid.shape[-1] // 2 + 1,)
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

    def forward(self, u: np.ndarray) -> np.ndarray:
        """Real FFT over the trailing spatial axes (same layout as ``np.fft.rfftn``).

        Done axis by axis (``rfft`` then in-place ``fft``), which is several times
        faster than ``np.fft.rfftn`` for small grids.
        """
        a = np.fft.rfft(u, axis=-1)
        for axis in self.axes[:-1]:
            np.fft.fft(a, axis=axis, out=a)
        return a

    def inverse(self, u_hat: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`forward` (returns float64 with the grid shape)."""
        a = u_hat
        for i, axis in enumerate(self.axes[:-1]):
            a = np.fft.ifft(a, axis=axis) if i == 0 else np.fft.ifft(a, axis=axis, out=a)
        return np.fft.irfft(a, n=self.grid.shape[-1], axis=-1)

    def ik(self, axis: int) -> np.ndarray:
        """First-derivative multiplier ``i k`` along ``axis`` (Nyquist mode zeroed)."""
        kk = np.array(self.k[axis], dtype=float)
        n = self.grid.shape[axis]
        if n % 2 == 0:
            # The Nyquist mode of an odd derivative is not representable; zero it.
            nyquist = n // 2
            index = [0] * self.grid.dim
            index[axis] = slice(None)
            flat = kk[tuple(index)]
            flat[nyquist] = 0.0
        return 1j * kk

    def integer_modes(self) -> list[np.ndarray]:
        """Integer mode numbers ``m`` (``k = 2 pi m / L``) per axis, broadcastable."""
        return [kk * (L / (2.0 * np.pi)) for kk, L in zip(self.k, self.grid.length, strict=True)]


def _phi_functions(z: np.ndarray, order: int) -> list[np.ndarray]:
    """``phi_1 .. phi_order`` of real ``z`` (``phi_j(z) = sum_m z^m / (m + j)!``).

    Uses the closed form for ``|z| >= 1`` and a Taylor series below, avoiding the
    cancellation of the closed form near ``z = 0``.
    """
    z = np.asarray(z, dtype=float)
    small = np.abs(z) < 1.0
    zs = np.where(small, z, 0.0)
    zl = np.where(small, 1.0, z)
    out: list[np.ndarray] = []
    # closed form recursion: phi_{j+1} = (phi_j - 1/j!) / z, phi_0 = exp(z)
    phi_large = np.exp(zl)
    for j in range(order):
        phi_large = (phi_large - 1.0 / math.factorial(j)) / zl
        # Taylor series: sum_{m=0}^{M} z^m / (m + j + 1)!
        series = np.zeros_like(zs)
        for m in range(25, -1, -1):
            series = series * zs + 1.0 / math.factorial(m + j + 1)
        out.append(np.where(small, series, phi_large))
    return out


def _smooth_random_field(grid: Grid, rng: np.random.Generator, max_mode: int) -> np.ndarray:
    """Zero-mean, unit-std random field made of Fourier modes with ``|m_i| <= max_mode``.

    Draws a fixed number of normals (twice the spectral size) from ``rng``.
    """
    spec = SpectralOperators(grid)
    coeffs = rng.standard_normal(spec.spectral_shape) + 1j * rng.standard_normal(
        spec.spectral_shape
    )
    mask = np.ones(spec.spectral_shape, dtype=bool)
    for m in spec.integer_modes():
        mask &= np.abs(m) <= max_mode + 1e-9
    mask[(0,) * grid.dim] = False
    field = spec.inverse(np.where(mask, coeffs, 0.0))
    field -= field.mean()
    std = field.std()
    if std > 0:
        field /= std
    return field


# ---------------------------------------------------------------------- base model


class Model:
    """Base class of all models.

    Subclasses define the class attributes ``name``, ``components``, ``parameters``
    (names -> defaults; ``None`` for a parameter the user must give), ``dims``
    (supported grid dimensions), optionally ``stochastic`` and ``dt_max``, and implement
    :meth:`initial_state` plus either :meth:`step` (simplest: one explicit time step;
    :meth:`advance` then does the validation and step counting) or :meth:`advance` itself.

    Instances carry ``grid`` and ``params`` (the full parameter dict with defaults
    filled in, values as ``float``).
    """

    name: ClassVar[str]
    components: ClassVar[tuple[str, ...]]
    parameters: ClassVar[dict[str, float | None]]  # None: no default, the config must set it
    dims: ClassVar[tuple[int, ...]]
    stochastic: ClassVar[bool] = False
    #: Maximum internal time step; may be overridden per instance (e.g. from params).
    dt_max: float = 1.0

    def __init__(self, grid: Grid, parameters: Mapping[str, float] | None = None) -> None:
        """Validate ``grid`` and ``parameters`` and fill in parameter defaults.

        Raises
        ------
        ValueError
            For an unknown parameter name (the message lists the allowed ones), a
            non-numeric / non-finite value, or an unsupported grid dimension.
        """
        cls = type(self)
        model_name = getattr(cls, "name", cls.__name__)
        if not isinstance(grid, Grid):
            raise TypeError(
                f"model {model_name!r} needs a fieldmovie.simulation.Grid, got {grid!r}"
            )
        if grid.dim not in tuple(cls.dims):
            raise ValueError(
                f"model {model_name!r} does not support {grid.dim}D grids "
                f"(supported dimensions: {', '.join(str(d) for d in cls.dims)})"
            )
        given = dict(parameters or {})
        unknown = sorted(set(given) - set(cls.parameters))
        if unknown:
            allowed = ", ".join(cls.parameters) or "(none)"
            raise ValueError(
                f"unknown parameter{'s' if len(unknown) > 1 else ''} "
                f"{', '.join(repr(u) for u in unknown)} for model {model_name!r}; "
                f"allowed parameters: {allowed}"
            )
        params: dict[str, float] = {}
        for key, default in cls.parameters.items():
            if default is None and key not in given:
                raise ValueError(
                    f"model {model_name!r} needs a value for parameter {key!r} (it has no default)"
                )
            value = given.get(key, default)
            try:
                fvalue = float(value)
            except (TypeError, ValueError) as exc:
                raise ValueError(
                    f"parameter {key!r} of model {model_name!r} must be a number, got {value!r}"
                ) from exc
            if not math.isfinite(fvalue):
                raise ValueError(
                    f"parameter {key!r} of model {model_name!r} must be finite, got {value!r}"
                )
            params[key] = fvalue
        self.grid: Grid = grid
        self.params: dict[str, float] = params

    def __repr__(self) -> str:
        return f"{type(self).__name__}(grid={self.grid!r}, parameters={self.params!r})"

    @property
    def state_shape(self) -> tuple[int, ...]:
        """``(n_components, *grid.shape)``."""
        return (len(self.components), *self.grid.shape)

    def num_steps(self, t0: float, t1: float) -> int:
        """Number of internal steps for ``[t0, t1]``: ``max(1, ceil((t1-t0)/dt_max - 1e-9))``."""
        return max(1, math.ceil((t1 - t0) / self.dt_max - 1e-9))

    def initial_state(self, rng: np.random.Generator) -> np.ndarray:
        """Initial state, float64 of shape ``(n_components, *grid.shape)``.

        Random initial conditions draw only from ``rng``.
        """
        raise NotImplementedError

    def advance(
        self, state: np.ndarray, t0: float, t1: float, rng: np.random.Generator
    ) -> np.ndarray:
        """Return the state at ``t1`` given ``state`` at ``t0`` (``state`` is not modified).

        Deterministic: a pure function of ``state``, ``t0``, ``t1``, the parameters
        and (for stochastic models) the state of ``rng``, which is the only source
        of randomness.  ``t1 == t0`` returns a copy of ``state`` without drawing
        from ``rng``.

        Raises
        ------
        ValueError
            If ``state`` has the wrong shape, or ``t1 < t0`` / non-finite times.
        """
        u, t0, t1 = self._check_advance_args(state, t0, t1)
        if t1 == t0:
            return u.copy()
        return self._advance(u, t0, t1, rng)

    def step(self, state: np.ndarray, dt: float, rng: np.random.Generator) -> np.ndarray:
        """One internal time step of size ``dt`` (hook for simple subclasses).

        Must return a new array and must not modify ``state``.
        """
        raise NotImplementedError(
            f"{type(self).__name__} must implement step() or override advance()"
        )

    # -- internals -----------------------------------------------------------------

    def _check_advance_args(
        self, state: np.ndarray, t0: float, t1: float
    ) -> tuple[np.ndarray, float, float]:
        u = np.asarray(state, dtype=np.float64)
        if u.shape != self.state_shape:
            raise ValueError(
                f"state of model {self._display_name()!r} must have shape "
                f"{self.state_shape}, got {u.shape}"
            )
        t0, t1 = float(t0), float(t1)
        if not (math.isfinite(t0) and math.isfinite(t1)):
            raise ValueError(f"times must be finite, got t0={t0}, t1={t1}")
        if t1 < t0:
            raise ValueError(f"cannot advance backwards in time (t0={t0} > t1={t1})")
        return u, t0, t1

    def _display_name(self) -> str:
        return getattr(type(self), "name", type(self).__name__)

    def _advance(self, u: np.ndarray, t0: float, t1: float, rng: np.random.Generator) -> np.ndarray:
        n = self.num_steps(t0, t1)
        dt = (t1 - t0) / n
        out = u
        for _ in range(n):
            out = self.step(out, dt, rng)
        if out is u:  # pragma: no cover - defensive
            out = u.copy()
        return np.asarray(out, dtype=np.float64)


class _SpectralModel(Model):
    """Shared machinery for the built-in Fourier-spectral models."""

    #: Maximum mode number of the smooth random initial field.
    init_modes: ClassVar[int] = 4

    def __init__(self, grid: Grid, parameters: Mapping[str, float] | None = None) -> None:
        super().__init__(grid, parameters)
        self.spectral = SpectralOperators(grid)
        self._op_cache: dict[float, Any] = {}
        self._validate()

    def _validate(self) -> None:
        """Model-specific parameter checks (raise ValueError)."""

    def _require(self, condition: bool, message: str) -> None:
        if not condition:
            raise ValueError(f"model {self.name!r}: {message}")

    def _operators(self, dt: float) -> Any:
        """Step-size dependent operators, cached per ``dt`` (deterministic)."""
        ops = self._op_cache.get(dt)
        if ops is None:
            if len(self._op_cache) >= 8:
                self._op_cache.clear()
            ops = self._make_operators(dt)
            self._op_cache[dt] = ops
        return ops

    def _make_operators(self, dt: float) -> Any:
        raise NotImplementedError

    @staticmethod
    def _etdrk2_operators(lin: np.ndarray, dt: float) -> tuple[np.ndarray, ...]:
        """ETDRK2 coefficients ``(exp(L dt), dt phi1(L dt), dt phi2(L dt))`` for real ``L``."""
        z = lin * dt
        phi1, phi2 = _phi_functions(z, 2)
        return np.exp(z), dt * phi1, dt * phi2

    def _etdrk2(
        self,
        u: np.ndarray,
        n: int,
        operators: tuple[np.ndarray, ...],
        nonlinear: Callable[[np.ndarray], np.ndarray],
    ) -> np.ndarray:
        """``n`` ETDRK2 (Cox-Matthews) steps of ``w_t = L w + N(w)``.

        ``nonlinear`` maps a real-space state to the Fourier transform of ``N``.
        """
        sp = self.spectral
        expz, h_phi1, h_phi2 = operators
        w = u
        w_hat = sp.forward(w)
        for _ in range(n):
            n0 = nonlinear(w)
            a_hat = expz * w_hat + h_phi1 * n0
            n1 = nonlinear(sp.inverse(a_hat))
            w_hat = a_hat + h_phi2 * (n1 - n0)
            w = sp.inverse(w_hat)
        return w


# ------------------------------------------------------------------ built-in models


class Diffusion(_SpectralModel):
    """Linear diffusion ``c_t = D lap(c)``.

    Solved exactly in Fourier space (``c_hat(t1) = exp(-D k^2 (t1 - t0)) c_hat(t0)``)
    in a single step, so the result is independent of any time step.  The initial
    state is a smooth zero-mean, unit-variance random field of the lowest Fourier
    modes (``|m| <= 4`` per axis).  The mean is conserved.
    """

    name: ClassVar[str] = "diffusion"
    components: ClassVar[tuple[str, ...]] = ("c",)
    parameters: ClassVar[dict[str, float]] = {"D": 1.0}
    dims: ClassVar[tuple[int, ...]] = (1, 2, 3)

    def _validate(self) -> None:
        self._require(self.params["D"] >= 0, "diffusivity D must be >= 0")

    def initial_state(self, rng: np.random.Generator) -> np.ndarray:
        return _smooth_random_field(self.grid, rng, self.init_modes)[np.newaxis].copy()

    def _advance(self, u: np.ndarray, t0: float, t1: float, rng: np.random.Generator) -> np.ndarray:
        sp = self.spectral
        decay = np.exp(-self.params["D"] * sp.k2 * (t1 - t0))
        return sp.inverse(sp.forward(u) * decay)


class NoisyDiffusion(_SpectralModel):
    """Stochastic diffusion ``c_t = D lap(c) - decay c + sigma xi`` (``stochastic = True``).

    Exponential Euler with ``dt_max = 0.1``: each step adds independent Gaussian
    noise ``sigma sqrt(dt) N(0, 1)`` at every grid point (drawn from the ``rng``
    passed to :meth:`advance`, one ``standard_normal(grid.shape)`` call per step)
    and then applies the exact linear propagator ``exp(-(D k^2 + decay) dt)``.  The
    noise is per grid point, i.e. not scaled with the cell volume.  With
    ``decay > 0`` the field reaches a statistically stationary state; with
    ``decay = 0`` the mean performs a random walk.  The initial state is the same
    kind of smooth random field as for ``diffusion``.
    """

    name: ClassVar[str] = "noisy_diffusion"
    components: ClassVar[tuple[str, ...]] = ("c",)
    parameters: ClassVar[dict[str, float]] = {"D": 1.0, "sigma": 0.1, "decay": 0.1}
    dims: ClassVar[tuple[int, ...]] = (1, 2, 3)
    stochastic: ClassVar[bool] = True
    dt_max: float = 0.1

    def _validate(self) -> None:
        self._require(self.params["D"] >= 0, "diffusivity D must be >= 0")
        self._require(self.params["decay"] >= 0, "decay must be >= 0")
        self._require(self.params["sigma"] >= 0, "noise amplitude sigma must be >= 0")

    def initial_state(self, rng: np.random.Generator) -> np.ndarray:
        return _smooth_random_field(self.grid, rng, self.init_modes)[np.newaxis].copy()

    def _make_operators(self, dt: float) -> np.ndarray:
        return np.exp(-(self.params["D"] * self.spectral.k2 + self.params["decay"]) * dt)

    def _advance(self, u: np.ndarray, t0: float, t1: float, rng: np.random.Generator) -> np.ndarray:
        sp = self.spectral
        n = self.num_steps(t0, t1)
        dt = (t1 - t0) / n
        propagator = self._operators(dt)
        amplitude = self.params["sigma"] * math.sqrt(dt)
        u_hat = sp.forward(u)
        for _ in range(n):
            noise = rng.standard_normal(self.grid.shape)
            u_hat = propagator * (u_hat + amplitude * sp.forward(noise))
        return sp.inverse(u_hat)


class GrayScott(_SpectralModel):
    """Gray-Scott reaction-diffusion (Pearson 1993)::

        u_t = Du lap(u) - u v^2 + F (1 - u)
        v_t = Dv lap(v) + u v^2 - (F + k) v

    Defaults ``F = 0.04, k = 0.06, Du = 2e-5, Dv = 1e-5`` are Pearson's values, meant
    for a domain of side length ~2.5 (e.g. ``Grid((128, 128), (2.5, 2.5))``).

    Integrator: ETDRK2 (Cox & Matthews) with the linear part (diffusion and the
    linear decay terms) treated exactly in Fourier space and ``u v^2`` explicitly;
    ``dt_max = 1.0`` (reaction-limited, independent of the grid).

    Initial state: ``u = 1, v = 0`` with a centred box of side ``length / 5`` per
    axis set to ``u = 1/2, v = 1/4``, plus Gaussian noise of standard deviation
    0.01 on both fields everywhere (``v`` clipped at 0).
    """

    name: ClassVar[str] = "gray_scott"
    components: ClassVar[tuple[str, ...]] = ("u", "v")
    parameters: ClassVar[dict[str, float]] = {"F": 0.04, "k": 0.06, "Du": 2e-5, "Dv": 1e-5}
    dims: ClassVar[tuple[int, ...]] = (1, 2, 3)
    dt_max: float = 1.0
    seed_fraction: ClassVar[float] = 0.2
    noise: ClassVar[float] = 0.01

    def _validate(self) -> None:
        p = self.params
        self._require(p["Du"] >= 0 and p["Dv"] >= 0, "diffusivities Du, Dv must be >= 0")
        self._require(p["F"] >= 0 and p["k"] >= 0, "rates F, k must be >= 0")

    def initial_state(self, rng: np.random.Generator) -> np.ndarray:
        state = np.zeros(self.state_shape)
        state[0] = 1.0
        box = np.ones(self.grid.shape, dtype=bool)
        for axis, (x, L) in enumerate(zip(self.grid.coordinates(), self.grid.length, strict=True)):
            inside = np.abs(x - 0.5 * L) <= 0.5 * self.seed_fraction * L
            view = [1] * self.grid.dim
            view[axis] = x.size
            box &= inside.reshape(view)
        state[0][box] = 0.5
        state[1][box] = 0.25
        state += self.noise * rng.standard_normal(self.state_shape)
        # concentrations: u in [0, 1] (the trivial state u=1 is the upper bound), v >= 0
        np.clip(state[0], 0.0, 1.0, out=state[0])
        np.maximum(state[1], 0.0, out=state[1])
        return state

    def _make_operators(self, dt: float) -> tuple[np.ndarray, ...]:
        p = self.params
        k2 = self.spectral.k2
        lin = np.stack([-(p["Du"] * k2 + p["F"]), -(p["Dv"] * k2 + p["F"] + p["k"])])
        return self._etdrk2_operators(lin, dt)

    def _nonlinear(self, w: np.ndarray) -> np.ndarray:
        uvv = w[0] * w[1] * w[1]
        out = np.empty_like(w)
        np.subtract(self.params["F"], uvv, out=out[0])
        out[1] = uvv
        return self.spectral.forward(out)

    def _advance(self, u: np.ndarray, t0: float, t1: float, rng: np.random.Generator) -> np.ndarray:
        n = self.num_steps(t0, t1)
        return self._etdrk2(u, n, self._operators((t1 - t0) / n), self._nonlinear)


class CahnHilliard(_SpectralModel):
    """Cahn-Hilliard equation ``c_t = D lap(c^3 - c - gamma lap(c))``.

    Stabilised exponential integrator (ETDRK2, cf. Eyre / Shen-Yang stabilisation):
    the biharmonic term plus a stabilising term ``S lap(c)`` (``S = 2``) form the
    linear operator, treated exactly in Fourier space; ``D lap(c^3 - (1 + S) c)`` is
    explicit.  Second order in time and stable for much larger steps than used;
    ``dt_max = 0.25 gamma / D`` (0.25 for the defaults; the fastest linear growth
    rate is ``D / (4 gamma)``) is chosen for accuracy.  The mean ``c0`` is conserved
    to round-off; values stay roughly within ``[-1.1, 1.1]``.

    Defaults ``D = 1, gamma = 1, c0 = 0`` suit e.g. ``Grid((64, 64), (64.0, 64.0))``
    (interface width ~``sqrt(2 gamma)``, fastest-growing wavelength
    ``2 pi sqrt(2 gamma)`` ~ 8.9).  Initial state: ``c0`` plus zero-mean Gaussian
    noise of standard deviation 0.01.
    """

    name: ClassVar[str] = "cahn_hilliard"
    components: ClassVar[tuple[str, ...]] = ("c",)
    parameters: ClassVar[dict[str, float]] = {"D": 1.0, "gamma": 1.0, "c0": 0.0}
    dims: ClassVar[tuple[int, ...]] = (1, 2, 3)
    stabilisation: ClassVar[float] = 2.0
    noise: ClassVar[float] = 0.01

    def _validate(self) -> None:
        self._require(self.params["D"] > 0, "mobility D must be > 0")
        self._require(self.params["gamma"] > 0, "interface parameter gamma must be > 0")
        self.dt_max = 0.25 * self.params["gamma"] / self.params["D"]
        self._minus_dk2 = -self.params["D"] * self.spectral.k2

    def initial_state(self, rng: np.random.Generator) -> np.ndarray:
        noise = self.noise * rng.standard_normal(self.grid.shape)
        noise -= noise.mean()
        return (self.params["c0"] + noise)[np.newaxis].copy()

    def _make_operators(self, dt: float) -> tuple[np.ndarray, ...]:
        p = self.params
        k2 = self.spectral.k2
        lin = -p["D"] * (p["gamma"] * k2 * k2 + self.stabilisation * k2)
        return self._etdrk2_operators(lin, dt)

    def _nonlinear(self, c: np.ndarray) -> np.ndarray:
        a = 1.0 + self.stabilisation
        return self._minus_dk2 * self.spectral.forward(c * c * c - a * c)

    def _advance(self, u: np.ndarray, t0: float, t1: float, rng: np.random.Generator) -> np.ndarray:
        n = self.num_steps(t0, t1)
        return self._etdrk2(u, n, self._operators((t1 - t0) / n), self._nonlinear)


class KuramotoSivashinsky(_SpectralModel):
    """Kuramoto-Sivashinsky equation ``u_t = -u u_x - u_xx - nu u_xxxx`` (1D only).

    ETDRK4 (Cox & Matthews, with the phi-functions evaluated stably as in Kassam &
    Trefethen 2005), ``dt_max = 0.25``.  Typical domain length ``32 pi`` with 128
    points (spatio-temporal chaos from t ~ 20-40 on).  The spatial mean is conserved.
    Initial state: a smooth zero-mean random field of standard deviation 0.1 made of
    the modes with ``k <= 1 / sqrt(nu)`` (the linearly unstable band).
    """

    name: ClassVar[str] = "kuramoto_sivashinsky"
    components: ClassVar[tuple[str, ...]] = ("u",)
    parameters: ClassVar[dict[str, float]] = {"nu": 1.0}
    dims: ClassVar[tuple[int, ...]] = (1,)
    dt_max: float = 0.25
    amplitude: ClassVar[float] = 0.1

    def _validate(self) -> None:
        self._require(self.params["nu"] > 0, "hyperdiffusivity nu must be > 0")
        self._minus_half_ik = -0.5 * self.spectral.ik(0)

    def initial_state(self, rng: np.random.Generator) -> np.ndarray:
        k_max = 1.0 / math.sqrt(self.params["nu"])
        max_mode = max(1, math.floor(k_max * self.grid.length[0] / (2.0 * np.pi)))
        field = _smooth_random_field(self.grid, rng, max_mode)
        return (self.amplitude * field)[np.newaxis].copy()

    def _make_operators(self, dt: float) -> tuple[np.ndarray, ...]:
        k2 = self.spectral.k2
        lin = k2 - self.params["nu"] * k2 * k2
        z = lin * dt
        half1 = _phi_functions(0.5 * z, 1)[0]
        phi1, phi2, phi3 = _phi_functions(z, 3)
        return (
            np.exp(0.5 * z),
            np.exp(z),
            0.5 * dt * half1,
            dt * (phi1 - 3.0 * phi2 + 4.0 * phi3),
            dt * (phi2 - 2.0 * phi3),
            dt * (4.0 * phi3 - phi2),
        )

    def _advance(self, u: np.ndarray, t0: float, t1: float, rng: np.random.Generator) -> np.ndarray:
        sp = self.spectral
        n = self.num_steps(t0, t1)
        e2, e, q, f1, f2, f3 = self._operators((t1 - t0) / n)
        g = self._minus_half_ik

        def nonlinear(v_hat: np.ndarray) -> np.ndarray:
            w = sp.inverse(v_hat)
            return g * sp.forward(w * w)

        v = sp.forward(u)
        for _ in range(n):
            nv = nonlinear(v)
            a = e2 * v + q * nv
            na = nonlinear(a)
            b = e2 * v + q * na
            nb = nonlinear(b)
            c = e2 * a + q * (2.0 * nb - nv)
            nc = nonlinear(c)
            v = e * v + f1 * nv + 2.0 * f2 * (na + nb) + f3 * nc
        return sp.inverse(v)


BUILTIN_MODELS: dict[str, type[Model]] = {
    cls.name: cls
    for cls in (Diffusion, NoisyDiffusion, GrayScott, CahnHilliard, KuramotoSivashinsky)
}


# ------------------------------------------------------------------- user models


class _FactoryModel(Model):
    """Adapter turning a duck-typed user factory into a :class:`Model` subclass."""

    _factory: ClassVar[Callable[..., Any]]
    _spec: ClassVar[str]

    def __init__(self, grid: Grid, parameters: Mapping[str, float] | None = None) -> None:
        super().__init__(grid, parameters)
        impl = type(self)._factory(grid, dict(self.params))
        for method in ("initial_state", "advance"):
            if not callable(getattr(impl, method, None)):
                raise ValueError(
                    f"model spec {self._spec!r}: the object returned by the factory has no "
                    f"callable {method!r} method"
                )
        self.impl = impl

    def _checked(self, result: Any, what: str) -> np.ndarray:
        arr = np.array(result, dtype=np.float64, copy=True)
        if arr.shape != self.state_shape:
            raise ValueError(
                f"model spec {self._spec!r}: {what} returned shape {arr.shape}, "
                f"expected {self.state_shape}"
            )
        return arr

    def initial_state(self, rng: np.random.Generator) -> np.ndarray:
        return self._checked(self.impl.initial_state(rng), "initial_state")

    def advance(
        self, state: np.ndarray, t0: float, t1: float, rng: np.random.Generator
    ) -> np.ndarray:
        u, t0, t1 = self._check_advance_args(state, t0, t1)
        if t1 == t0:
            return u.copy()
        return self._checked(self.impl.advance(u.copy(), t0, t1, rng), "advance")


def _validated_attributes(spec: str, obj: Any) -> dict[str, Any]:
    """Check and normalise the model attributes of ``obj`` (loaded from ``spec``)."""

    def fail(message: str) -> ValueError:
        return ValueError(f"model spec {spec!r}: {message}")

    missing = [a for a in ("components", "parameters", "dims") if not hasattr(obj, a)]
    if missing:
        raise fail(
            f"{obj!r} is missing the required attribute{'s' if len(missing) > 1 else ''} "
            f"{', '.join(repr(m) for m in missing)} (a model needs 'components', "
            "'parameters' and 'dims')"
        )
    components = obj.components
    if (
        isinstance(components, str)
        or not isinstance(components, tuple | list)
        or not components
        or not all(isinstance(c, str) and c for c in components)
        or len(set(components)) != len(components)
    ):
        raise fail(f"'components' must be a non-empty tuple of unique names, got {components!r}")
    parameters = obj.parameters
    if not isinstance(parameters, Mapping) or not all(isinstance(k, str) for k in parameters):
        raise fail(f"'parameters' must be a dict of name -> default, got {parameters!r}")
    try:
        # None marks a parameter without default: the config must give it
        param_defaults = {k: None if v is None else float(v) for k, v in parameters.items()}
    except (TypeError, ValueError) as exc:
        raise fail(f"'parameters' defaults must be numbers or None, got {parameters!r}") from exc
    dims = obj.dims
    try:
        dims_t = tuple(int(d) for d in dims)
    except TypeError as exc:
        raise fail(f"'dims' must be a tuple of ints from 1, 2, 3, got {dims!r}") from exc
    if not dims_t or not all(d in (1, 2, 3) for d in dims_t):
        raise fail(f"'dims' must be a non-empty tuple of ints from 1, 2, 3, got {dims!r}")
    if not callable(obj):
        raise fail(f"{obj!r} is not callable as factory(grid, parameters)")
    return {
        "components": tuple(components),
        "parameters": param_defaults,
        "dims": dims_t,
        "stochastic": bool(getattr(obj, "stochastic", False)),
    }


def _load_object(spec: str) -> Any:
    module_name, _, attr_path = spec.partition(":")
    module_name, attr_path = module_name.strip(), attr_path.strip()
    if not module_name or not attr_path:
        raise ValueError(
            f"invalid model spec {spec!r}: expected 'package.module:factory' or one of the "
            f"built-in models {', '.join(sorted(BUILTIN_MODELS))}"
        )
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise ValueError(
            f"model spec {spec!r}: cannot import module {module_name!r} "
            f"({type(exc).__name__}: {exc})"
        ) from exc
    obj: Any = module
    for part in attr_path.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError as exc:
            raise ValueError(
                f"model spec {spec!r}: module {module_name!r} has no attribute {attr_path!r}"
            ) from exc
    return obj


def resolve_model(spec: str) -> type[Model]:
    """Return the model class for ``spec``.

    ``spec`` is either a built-in name (a key of :data:`BUILTIN_MODELS`, e.g.
    ``"gray_scott"``; ``-`` and case are normalised) or ``"package.module:factory"``
    naming a user model.  The factory may be a :class:`Model` subclass, or any
    callable ``factory(grid, parameters)`` with the attributes ``components``,
    ``parameters`` and ``dims`` (and optionally ``stochastic`` and ``name``) whose
    return value has ``initial_state(rng)`` and ``advance(state, t0, t1, rng)``;
    such a factory is wrapped in a :class:`Model` subclass, so the result always has
    the full :class:`Model` interface (defaults filled in, unknown parameters
    rejected, shapes checked).

    Raises
    ------
    ValueError
        Unknown built-in name (the message lists the built-ins), unimportable
        module, missing attribute or invalid model attributes (the message names the
        spec and the offending attribute).
    """
    if not isinstance(spec, str):
        raise TypeError(f"model spec must be a string, got {spec!r}")
    if ":" not in spec:
        key = spec.strip().lower().replace("-", "_")
        if key in BUILTIN_MODELS:
            return BUILTIN_MODELS[key]
        raise ValueError(
            f"unknown model {spec!r}; built-in models are: "
            f"{', '.join(sorted(BUILTIN_MODELS))} (or give a user model as "
            "'package.module:factory')"
        )
    obj = _load_object(spec)
    attrs = _validated_attributes(spec, obj)
    name = getattr(obj, "name", None)
    if not isinstance(name, str) or not name:
        name = spec
    if isinstance(obj, type) and issubclass(obj, Model):
        if getattr(obj, "name", None) == name:
            return obj
        return type(obj.__name__, (obj,), {"name": name, "__module__": obj.__module__})
    namespace = {
        "name": name,
        "_factory": staticmethod(obj),
        "_spec": spec,
        "__module__": __name__,
        "__doc__": f"User model {spec!r} (adapter around {obj!r}).",
        **attrs,
    }
    class_name = "UserModel_" + "".join(ch if ch.isalnum() else "_" for ch in spec)
    return type(class_name, (_FactoryModel,), namespace)
