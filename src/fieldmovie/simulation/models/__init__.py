"""Deterministic PDE models for chunked ("segmented") simulation.

Every model integrates a PDE on a periodic grid.  The central contract is
:meth:`Model.advance`: a *pure function* of ``(state, t0, t1, parameters, options, rng
state)``.  The number of internal steps depends only on ``t1 - t0`` and the model's
options (``rtol`` or ``dt``), so a simulation split into segments ``advance(s0, 0, 1)``,
``advance(s1, 1, 2)``, ... gives bit-identical results whether or not the process was
restarted between two segments, provided the restarted segment gets the saved state and
(for stochastic models) the saved ``rng.bit_generator.state``, and uses the same FFT
backend (``model.fft_backend``).

The segment boundaries themselves matter: ``advance(s, 0, 2)`` is in general *not*
bit-identical to ``advance(advance(s, 0, 1), 1, 2)``, so a runner must always split a
run at the same times.

Modules: :mod:`.grid` (the grid), :mod:`.fft` (numpy / pyFFTW transforms),
:mod:`.spectral` (wave numbers, resolution measure), :mod:`.integrators` (ETDRK2,
ETDRK4), :mod:`.base` (the :class:`Model` base class and its one hook ``integrate``),
:mod:`.spectral_model` (shared machinery of the built-ins), one module per built-in
model, :mod:`.loading` (:func:`resolve_model`) and :mod:`.pde_model` (py-pde PDEs).
"""

from .base import Model
from .cahn_hilliard import CahnHilliard
from .diffusion import Diffusion, NoisyDiffusion
from .gray_scott import GrayScott
from .grid import Grid
from .kuramoto_sivashinsky import KuramotoSivashinsky
from .loading import BUILTIN_MODELS, resolve_model
from .spectral import SpectralOperators, spectral_tail
from .spectral_model import SemilinearModel, SpectralModel

__all__ = [
    "BUILTIN_MODELS",
    "CahnHilliard",
    "Diffusion",
    "Grid",
    "GrayScott",
    "KuramotoSivashinsky",
    "Model",
    "NoisyDiffusion",
    "SemilinearModel",
    "SpectralModel",
    "SpectralOperators",
    "resolve_model",
    "spectral_tail",
]
