"""How one compiled call reaches every tensor of a list: a table of addresses, split into chunks.

A step over a list of tensors is one call (one parallel loop on the CPU, one kernel launch on a
GPU), whatever the list's length. Numba compiles a function per argument type, and a list of
arrays has no type that stays the same across lists, so the call gets one int64 table instead:

    table[SIZE, k]         elements of tensor k
    table[FIRST_CHUNK, k]  index of tensor k's first chunk; table[FIRST_CHUNK, n] = all chunks
    table[STREAMS + j, k]  address of stream j (params, grads, states...) of tensor k; 0 if absent

Work is split into chunks of a fixed number of elements, never across a tensor's end, and chunk c
belongs to the last tensor whose first chunk is <= c. The table has n + 1 columns; column n holds
only the chunk total. Building it (host side) trusts arrays the caller has already checked.
"""

import numpy as np
from numba import njit, types
from numba.extending import intrinsic, overload
from numba.np.arrayobj import make_array, populate_array

SIZE, FIRST_CHUNK, STREAMS = 0, 1, 2


def build(sizes, addresses, chunk):
    """The table for tensors of `sizes`, with `addresses[j][k]` the address of stream j of tensor k
    (None for an absent stream), cut in chunks of `chunk` elements."""
    n = len(sizes)
    table = np.zeros((STREAMS + len(addresses), n + 1), np.int64)
    table[SIZE, :n] = sizes
    chunks = -(-table[SIZE, :n] // chunk)  # ceil; an empty tensor has no chunk
    np.cumsum(chunks, out=table[FIRST_CHUNK, 1:])
    for j, stream in enumerate(addresses):
        if stream is not None:
            table[STREAMS + j, :n] = stream
    return table


@njit(cache=True)
def chunk_count(table):
    return table[FIRST_CHUNK, table.shape[1] - 1]


@njit(cache=True)
def chunk(table, c, chunk_size):
    """(tensor, first element, end element) of chunk c, for chunks of chunk_size elements."""
    k = tensor_of_chunk(table, c)
    begin = (c - table[FIRST_CHUNK, k]) * chunk_size
    end = begin + chunk_size
    if end > table[SIZE, k]:  # not min(): the CUDA target cannot compile the builtin here
        end = table[SIZE, k]
    return k, begin, end


@njit(cache=True)
def tensor_of_chunk(table, c):
    """The tensor that chunk c belongs to: binary search over the first chunks (empty tensors share
    their first chunk with the next tensor, and the search finds the last of them)."""
    lo, hi = 0, table.shape[1] - 1  # the answer is in [lo, hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if table[FIRST_CHUNK, mid] <= c:
            lo = mid
        else:
            hi = mid
    return lo


@intrinsic
def _array_at(typingctx, address, size, like):
    """The 1-D array of `size` elements of like's type (float32 or float64) at `address` (an
    integer; a device address in CUDA code). It owns nothing: it views memory that the caller keeps
    alive. Built here rather than with numba.carray, which the CUDA target does not provide."""
    if not (isinstance(address, types.Integer) and isinstance(size, types.Integer)
            and isinstance(like, types.Float)):
        return None
    array_type = types.Array(like, 1, "C")

    def codegen(context, builder, signature, args):
        address, size, _ = args
        pointer_type = context.get_value_type(types.CPointer(like))
        itemsize = context.get_constant(types.intp, context.get_abi_sizeof(context.get_data_type(like)))
        array = make_array(array_type)(context, builder)
        populate_array(array, data=builder.inttoptr(address, pointer_type),
                       shape=[context.cast(builder, size, signature.args[1], types.intp)],
                       strides=[itemsize], itemsize=itemsize, meminfo=None)
        return array._getvalue()

    return array_type(address, size, like), codegen


# Inlined into its callers at Numba's IR level (inline="always"): a CUDA device function may only
# return an array that it was given. Called from Python (as under the CUDA simulator), it runs
# compiled on the host and returns a NumPy view.
@njit(cache=True, inline="always")
def stream_chunk(table, stream, k, begin, end, like):
    """Elements [begin, end) of stream `stream` of tensor k, indexed from 0. Loops over
    range(chunk.size) vectorize; over range(begin, end), Numba's handling of negative indices (which
    it cannot rule out there) keeps LLVM from vectorizing."""
    return _array_at(table[STREAMS + stream, k], table[SIZE, k], like)[begin:end]


def stream_chunks(presence, table, k, begin, end, like):
    """(stream_chunk(...) or None per stream): elements [begin, end) of each stream of tensor k,
    None where presence holds None. None is a type of its own in Numba, and compiled code gets the
    overload below, which decides on the types in `presence`: code that takes the result compiles
    once per pattern of present streams, with no test per element. Inlined at Numba's IR level, so
    that the CPU loops vectorize (a tuple returned from a call of its own would keep LLVM from it,
    4x slower measured) and a CUDA kernel may build it. This Python body serves Python callers."""
    return tuple(None if p is None else stream_chunk(table, j, k, begin, end, like)
                 for j, p in enumerate(presence))


def _stream_chunks_of(absent):
    """The compiled stream_chunks for streams where `absent` holds whether each is None: a tuple
    expression of stream_chunk calls (inlined, as the loops need to vectorize) and Nones."""
    items = "".join("None, " if none else f"stream_chunk(table, {j}, k, begin, end, like), "
                    for j, none in enumerate(absent))
    namespace = {"stream_chunk": stream_chunk}
    exec(f"def impl(presence, table, k, begin, end, like):\n    return ({items})", namespace)  # noqa: S102
    return namespace["impl"]


@overload(stream_chunks, inline="always")
def _stream_chunks(presence, table, k, begin, end, like):
    if isinstance(presence, types.BaseTuple):
        return _stream_chunks_of(tuple(isinstance(t, types.NoneType) for t in presence))
