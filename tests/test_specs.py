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


MIRRORING = sorted(name for name, spec in _specs.SPECS.items() if spec.torch_class)  # all but Lion


@pytest.mark.parametrize("name", MIRRORING)
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


@pytest.mark.parametrize("name", sorted(_specs.SPECS))
def test_functional_defaults_are_the_specs(name):
    spec = _specs.SPECS[name]
    parameters = inspect.signature(getattr(functional, name + "_")).parameters
    for option in spec.options:
        if option.functional_split:  # its two names, each with its half of the default
            assert [parameters[n].default for n in option.sets] == list(option.default), option.name
            continue
        assert (option.name in parameters) == option.functional, option.name
        if option.functional:
            # A state scalar (NAdam's mu_product) is required: the caller keeps it.
            want = inspect.Parameter.empty if option.state else option.default
            assert parameters[option.name].default == want
            assert parameters[option.name].kind is inspect.Parameter.KEYWORD_ONLY


@pytest.mark.parametrize("name", MIRRORING)
def test_optim_constructors_take_torchs_arguments(name):
    """pygd.optim's constructor takes the spec's options in torch.optim's order, with its defaults
    (positional where torch's are); torch.optim's others (foreach, fused, ...) are torch's alone."""
    torch = pytest.importorskip("torch")
    import pygd.optim
    spec = _specs.SPECS[name]
    ours = inspect.signature(getattr(pygd.optim, spec.torch_class)).parameters
    theirs = inspect.signature(getattr(torch.optim, spec.torch_class)).parameters
    names = [n for n in ours if n not in ("params", "backend", "state_dtype")]  # pygd's own
    assert names == [n for n in theirs if n in names]
    assert names == [o.name for o in spec.options if o.constructor]
    for n in names:
        assert ours[n].default == theirs[n].default, n
        if theirs[n].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD and ours[n].kind is not theirs[n].kind:
            assert n == "maximize"  # keyword-only in pygd.optim, as in most of torch.optim


def test_group_readers_read_by_name():
    """A param group's options reach the kernel by name: the same tuple whatever the group's key
    order, for pygd.optim's checked reader and pygd.torch's."""
    from pygd import _steps
    for spec in _specs.SPECS.values():
        group = dict(reversed(list(spec.defaults.items())))
        # A state scalar's slot holds the readers' placeholder, 1.0 (each call puts its value there).
        # Adafactor's eps1=None reaches the kernels as _validate.EPS_OF_DTYPE.
        expected = spec.pack(**{name: value for o in spec.options for name, value in zip(
            o.sets, _validate.eps_pair(o.default) if o.check == "eps_pair" else o.default
            if o.check in _specs.PAIR_CHECKS else (1.0 if o.state else o.default,))})
        assert _steps.group_reader(spec)(group) == expected
        assert _steps.torch_group_reader(spec)(group) == expected


def test_a_step_names_its_option_in_errors():
    import numpy as np
    p, g = np.ones(3, np.float32), np.ones(3, np.float32)
    with pytest.raises(ValueError, match="lr must be >= 0"):
        functional.adagrad_(p, g, np.zeros(3, np.float32), step=1, lr=-1.0)
    with pytest.raises(ValueError, match="nesterov=True requires momentum > 0"):
        functional.sgd_(p, g, step=1, nesterov=True)
    with pytest.raises(ValueError, match="grad_avgs is required when centered=True"):
        functional.rmsprop_(p, g, np.zeros(3, np.float32), centered=True)
    np.testing.assert_array_equal(p, 1.0)
