"""One kernel call of a step: params of one device, dtype and step count, with their state.

CpuCall runs pygd's native CPU kernel through a PointerTable (csrc/bindings/pointer_table.h): the
addresses of params and state are set once, a step gathers the grads' in one native loop. CudaCall
enqueues pygd's CUDA kernel (pygd/_backends/cuda.py `launch`) on the current torch stream, with the
step count and GradScaler's tensors read on the device, never on the host.

Both keep the call's `step` tensors (torch's state[p]["step"], one 0-dim tensor per param) as views
into one 1-D tensor, so advancing every count is one add_ (torch's _foreach_add_ over 2000 0-dim CPU
tensors costs ~9 ms).
"""

import torch
from torch.autograd.graph import increment_version

from .. import _native
from . import _checks

PARAM, GRAD = 0, 1
# PointerTable.gather_grads's reason for leaving the fast path (csrc/bindings/pointer_table.h).
GRAD_NOT_CONTIGUOUS = 2


class Rebuild(Exception):
    """The plan no longer matches the group (a grad appeared or vanished, a param moved)."""


def make_call(spec, layout, members, step, state):
    """The call for `members` ((param, index in the optimizer, state entry) of one device, dtype and
    step count); rebinds each entry's "step" to a view of the call's step tensor. `state` is the
    optimizer's state dict, which the entries join at commit."""
    params = [p for p, _, _ in members]
    steps = None
    if spec.has_step_state:
        # On a GPU the kernel reads the count as a float32 (as torch's fused kernels keep it).
        device = params[0].device
        dtype = members[0][2]["step"].dtype if device.type == "cpu" else torch.float32
        steps = torch.full((len(params),), float(step), dtype=dtype, device=device)
        for i, (_, _, entry) in enumerate(members):
            entry["step"] = steps[i]
    state_addresses = [None if name is None else [entry[name].data_ptr() for _, _, entry in members]
                       for name in layout]
    watched = tuple(name for name in ("step",) + tuple(layout)
                    if name is not None and (name != "step" or steps is not None))
    held = [entry[name] for _, _, entry in members for name in watched]
    call = call_class_for(params[0].device)(spec, layout, params, [i for _, i, _ in members],
                                            state_addresses, steps, step)
    call.watch(state if watched else None, watched, held)
    return call


def call_class_for(device):
    return CpuCall if device.type == "cpu" else CudaCall


class Call:
    def __init__(self, spec, layout, params, indices, state_addresses, steps, step):
        self.spec = spec
        self.stream_names = ("param", "grad") + tuple(layout)  # None where a stream is absent
        self.params = params      # in group order
        self.indices = indices    # their indices in the optimizer, for messages
        self.steps = steps        # 1-D tensor whose elements are the params' state["step"], or None
        self.step = step          # the step count before this step, as the host sees it
        self.copies = None        # this step's (grad, copy in the param's layout) pairs
        self.param_addresses = [p.data_ptr() for p in params]
        self.contiguous = all(p.is_contiguous() for p in params)  # else dense in another order

    def watch(self, state, names, held):
        """Every step checks that state[param][name] is still the tensor the call was built on (a
        state edited or replaced since means a rebuild). `held` also keeps the tensors, and their
        storage, alive as long as the call may write them."""
        self.state, self.watched, self.held = state, names, held
        self.storages = [t.untyped_storage() for t in held]
        # The first step after a build runs on what was just read (not yet committed to the state).
        self.fresh = True

    def _watched_state(self):
        """The state dict to check against this step, None when there is nothing to check."""
        if self.fresh:
            self.fresh = False
            return None
        return self.state

    def _state_unchanged(self):
        state = self._watched_state()
        if state is None:
            return True
        held, names = iter(self.held), self.watched
        for param in self.params:
            entry = state.get(param)
            if entry is None or any(entry.get(name) is not next(held) for name in names):
                return False
        return True

    def _grads_in_layout(self, grads):
        """The grads the kernel reads: each grad itself when it lines up with its param, else a
        copy that does (torch accepts grads of any strides); the error for an unusable grad."""
        usable, copies = [], []
        for param, grad, index in zip(self.params, grads, self.indices):
            if grad is None:
                raise Rebuild
            error = _checks.check_grad(param, grad, index)
            if error is not None:
                raise error
            lined_up = _checks.in_layout_of(param, grad)
            if lined_up is not grad:
                copies.append((grad, lined_up))
            usable.append(lined_up)
        self.copies = copies
        return usable

    def _gather_in_python(self):
        """This step's grad addresses, with every check the native gather makes, in Python: for
        calls on a GPU, and for params not in row-major order, whose grads the native test (is the
        grad contiguous?) would not vet."""
        params = self.params
        if [p.data_ptr() for p in params] != self.param_addresses or not self._state_unchanged():
            raise Rebuild
        grads = [p.grad for p in params]
        if self.contiguous:
            try:
                addresses = [g.data_ptr() for g in grads if g.is_contiguous()]
            except AttributeError:  # a grad became None
                raise Rebuild from None
            if len(addresses) == len(grads):
                return addresses
        return [g.data_ptr() for g in self._grads_in_layout(grads)]

    def _finish(self, unscaled):
        if unscaled and self.copies:
            for grad, copy in self.copies:
                grad.copy_(copy)  # the unscaled grad, as torch's fused step leaves it
        self.copies = None
        # The params changed in place: autograd must see it, as after torch's in-place updates.
        increment_version(self.params)


class CpuCall(Call):
    def __init__(self, spec, layout, params, indices, state_addresses, steps, step):
        super().__init__(spec, layout, params, indices, state_addresses, steps, step)
        self.table = _native.PointerTable(str(params[0].dtype).replace("torch.", ""),
                                          [p.numel() for p in params], 2 + len(state_addresses))
        self.table.set(PARAM, [p.data_ptr() for p in params])
        for k, addresses in enumerate(state_addresses, start=2):
            self.table.set(k, addresses)

    def gather(self, unscaling):
        """This step's grads into the table, checked; raises Rebuild or the error for a bad grad."""
        self.copies = None
        if not self.contiguous:
            self.table.set(GRAD, self._gather_in_python())
        else:
            failure = self.table.gather_grads(self.params, GRAD, self._watched_state(),
                                              self.watched, self.held)
            if failure is not None:
                reason, _ = failure
                if reason != GRAD_NOT_CONTIGUOUS:
                    raise Rebuild   # a grad became None, a param's storage or the state was replaced
                grads = self._grads_in_layout([p.grad for p in self.params])
                self.table.set(GRAD, [g.data_ptr() for g in grads])
        spec = self.spec
        problem = self.table.check(spec.written | (1 << GRAD if unscaling else 0), spec.optional)
        if problem is not None:
            raise _overlap_error(self, problem)

    def run(self, hparams, amp):
        grad_scale = amp.host_grad_scale()
        problem = self.spec.run(self.table, self.step + 1, hparams, grad_scale)
        if problem is not None:  # gather() checked the call; reaching here is a pygd bug
            raise RuntimeError(f"pygd.torch: the kernel rejected a checked call: {problem}")
        self.step += 1
        if self.steps is not None:
            self.steps.add_(1)
        self._finish(grad_scale != 1.0)


class CudaCall(Call):
    def __init__(self, spec, layout, params, indices, state_addresses, steps, step):
        super().__init__(spec, layout, params, indices, state_addresses, steps, step)
        from .._backends import cuda
        self.launch = cuda.launch
        self.device = params[0].device
        self.dtype = str(params[0].dtype).replace("torch.", "")
        self.sizes = [p.numel() for p in params]
        self.state_addresses = state_addresses
        self.grad_addresses = None

    def gather(self, unscaling):
        self.copies = None
        self.grad_addresses = self._gather_in_python()

    def run(self, hparams, amp):
        grad_scale, found_inf = amp.on(self.device)
        streams = (self.param_addresses, self.grad_addresses, *self.state_addresses)
        stream = torch.cuda.current_stream(self.device).cuda_stream
        if self.steps is not None:
            # torch's fused protocol: count the step on the device, let the kernel read it (and
            # skip when found_inf), then take the count back where the step was skipped.
            self.steps.add_(1)
            step, step_address = None, self.steps.data_ptr()
        else:
            step, step_address = self.step + 1, 0
        self.launch(self.spec.native.__name__, self.dtype, self.sizes, streams, step, step_address,
                    hparams, _address(grad_scale), _address(found_inf), stream, self.device.index)
        if self.steps is not None and found_inf is not None:
            self.steps.sub_(found_inf)
        self.step += 1  # a host count for calls without step tensors (SGD: is the buffer new?)
        self._finish(grad_scale is not None)


def _address(tensor):
    return 0 if tensor is None else tensor.data_ptr()


def _overlap_error(call, problem):
    _, stream, index, other_stream, other_index = problem

    def where(s, i):
        return f"{call.stream_names[s]} of {_checks.name_of(call.indices[i])}"

    return ValueError(f"{where(stream, index)} overlaps {where(other_stream, other_index)} in "
                      "memory, and the update writes one of them")
