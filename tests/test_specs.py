"""pygd/_specs.py and pygd/_constants.py: one declaration per optimizer, which every layer reads,
and the extension's codes read by name. No value here is restated from the C++ headers: each test
holds a declaration against what the extension exports."""

import inspect

import pytest

from pygd import _constants, _specs, _validate, functional


def test_every_functional_step_has_a_spec():
    assert set(_specs.SPECS) == {name[:-1] for name in functional.__all__}


@pytest.mark.parametrize("name", sorted(_specs.SPECS))
def test_the_functional_signature_takes_the_specs_streams(name):
    spec = _specs.SPECS[name]
    params = list(inspect.signature(getattr(functional, name + "_")).parameters)
    assert [p for p in params if p in spec.stream_names] == list(spec.stream_names)
    assert ("step" in params) == spec.takes_step


@pytest.mark.parametrize("name", sorted(_specs.SPECS))
def test_the_spec_mirrors_its_torch_class(name):
    torch = pytest.importorskip("torch")
    import pygd.torch
    assert hasattr(torch.optim, _specs.SPECS[name].torch_class)
    assert hasattr(pygd.torch, _specs.SPECS[name].torch_class)


def test_validate_reads_the_streams_from_the_specs():
    for kernel, spec in _specs.KERNELS.items():
        assert _validate.STREAMS[kernel] == spec.stream_names
        assert _validate.OPTIONAL_STREAMS[kernel] == set(spec.optional_streams)


def test_pack_orders_by_the_kernels_names(native):
    for kernel, spec in _specs.KERNELS.items():
        assert spec.hyperparameters == native.hyperparameters[kernel]
        values = {n: float(i) for i, n in enumerate(reversed(spec.hyperparameters))}
        packed = spec.pack(**values)
        assert packed == tuple(values[n] for n in native.hyperparameters[kernel])
        assert spec.named(packed) == values
        with pytest.raises(TypeError):
            spec.pack(**{**values, "bogus": 1.0})


def test_the_kernels_read_hyperparameters_by_name(native):
    """A dict by name and the packed tuple run the same step; a missing or unknown name fails
    before anything is written."""
    import numpy as np
    spec = _specs.SPECS["sgd"]
    named = dict(lr=0.1, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False,
                 maximize=False)
    p1, p2, g = np.ones(5, np.float32), np.ones(5, np.float32), np.full(5, 2.0, np.float32)
    assert native.sgd((p1, g, None), 1, named) is None
    assert native.sgd((p2, g, None), 1, spec.pack(**named)) is None
    np.testing.assert_array_equal(p1, p2)
    for bad in ({k: v for k, v in named.items() if k != "lr"}, {**named, "lr": "fast"}):
        before = p1.copy()
        with pytest.raises((ValueError, TypeError)):
            native.sgd((p1, g, None), 1, bad)
        np.testing.assert_array_equal(p1, before)


def test_constants_are_the_extensions(native):
    assert dict(_constants.BufferProblem.__members__) == native.problems
    assert dict(_constants.NormKind.__members__) == native.norm_kinds
    assert dict(_constants.GatherResult.__members__) == native.gather_results
