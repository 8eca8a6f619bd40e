"""A py-pde ``PDEBase`` subclass as a model, for the tests and bench/bench_models.py.

``model: "pde:pdebase_for_tests:brusselator_class"`` is the Brusselator of
``models_for_tests.pde_brusselator`` written as a custom py-pde class: ``evolution_rate``
(py-pde's numpy backend) and ``make_evolution_rate`` (its numba backend), so it has no
spectral form and exercises py-pde's own right-hand sides.
"""

from __future__ import annotations

import numpy as np
from models_for_tests import _brusselator_start


def brusselator_class(parameters):  # noqa: ANN001, ANN201
    """The Brusselator as an instance of a ``pde.PDEBase`` subclass."""
    import pde

    class Brusselator(pde.PDEBase):
        def __init__(self, a: float, b: float, d: float) -> None:
            super().__init__()
            self.a, self.b, self.d = a, b, d

        def evolution_rate(self, state, t=0.0):  # noqa: ANN001, ANN202
            u, v = state
            a, b, d = self.a, self.b, self.d
            ru = d * u.laplace("periodic") + a - (b + 1) * u + u**2 * v
            rv = 10 * d * v.laplace("periodic") + b * u - u**2 * v
            return pde.FieldCollection([ru, rv])

        def make_evolution_rate(self, state, backend):  # noqa: ANN001, ANN202
            a, b, d = self.a, self.b, self.d
            laplace = state.grid.make_operator("laplace", bc="periodic", backend=backend)

            def rhs(data, t=0.0):  # noqa: ANN001, ANN202
                u, v = data[0], data[1]
                out = np.empty_like(data)
                out[0] = d * laplace(u) + a - (b + 1) * u + u**2 * v
                out[1] = 10 * d * laplace(v) + b * u - u**2 * v
                return out

            return rhs

    return Brusselator(parameters["a"], parameters["b"], parameters["d"])


brusselator_class.parameters = {"a": 1.0, "b": 3.0, "d": 0.1}
brusselator_class.components = ("u", "v")
brusselator_class.dt = 0.01
brusselator_class.initial_state = _brusselator_start
