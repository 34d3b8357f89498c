"""The parameter lists of real architectures, as (name, shape) in the order of the models'
named_parameters(), derived from each architecture's definition (no torchvision or transformers).

An optimizer step's cost over a model depends on its tensors' count and sizes, not on what the
layers compute: a list of the same shapes is a faithful stand-in for benchmarking a step. Each list
is checked against the model's published parameter count, so a slip in the derivation cannot pass
silently.
"""

from __future__ import annotations

import math

# (name, shape) of one parameter tensor.
Parameter = tuple[str, tuple[int, ...]]

# ResNet-50 (He et al. 2016; torchvision.models.resnet50): bottleneck blocks per stage, the width
# of each stage's 3x3 convolutions, and the bottleneck's output expansion.
RESNET50_BLOCKS = (3, 4, 6, 3)
RESNET50_WIDTHS = (64, 128, 256, 512)
RESNET_BOTTLENECK_EXPANSION = 4
RESNET_STEM_WIDTH = 64
IMAGENET_CLASSES = 1000
IMAGE_CHANNELS = 3

# GPT-2 small (Radford et al. 2019; transformers GPT2Config defaults): vocabulary, context length,
# model width, layers, and the MLP's expansion. The language-model head is tied to the token
# embedding, so it adds no parameters.
GPT2_VOCAB = 50257
GPT2_POSITIONS = 1024
GPT2_WIDTH = 768
GPT2_LAYERS = 12
GPT2_MLP_EXPANSION = 4

# The published totals each derivation must reproduce.
EXPECTED_PARAMETERS = {"resnet50": 25_557_032, "gpt2-small": 124_439_808}


def _batch_norm(name: str, channels: int) -> list[Parameter]:
    return [(f"{name}.weight", (channels,)), (f"{name}.bias", (channels,))]


def _conv(name: str, out_channels: int, in_channels: int, kernel: int) -> list[Parameter]:
    """A convolution without bias (every ResNet convolution is followed by a batch norm)."""
    return [(f"{name}.weight", (out_channels, in_channels, kernel, kernel))]


def resnet50() -> list[Parameter]:
    """ResNet-50: a 7x7 stem, four stages of bottleneck blocks (1x1 reduce, 3x3, 1x1 expand, each
    with a batch norm; the first block of a stage projects its input with a 1x1 convolution and a
    batch norm), and the classifier on the pooled 2048 features."""
    params = (_conv("conv1", RESNET_STEM_WIDTH, IMAGE_CHANNELS, 7)
              + _batch_norm("bn1", RESNET_STEM_WIDTH))
    in_channels = RESNET_STEM_WIDTH
    for stage, (blocks, width) in enumerate(zip(RESNET50_BLOCKS, RESNET50_WIDTHS), 1):
        out_channels = width * RESNET_BOTTLENECK_EXPANSION
        for block in range(blocks):
            name = f"layer{stage}.{block}"
            params += (_conv(f"{name}.conv1", width, in_channels, 1)
                       + _batch_norm(f"{name}.bn1", width)
                       + _conv(f"{name}.conv2", width, width, 3) + _batch_norm(f"{name}.bn2", width)
                       + _conv(f"{name}.conv3", out_channels, width, 1)
                       + _batch_norm(f"{name}.bn3", out_channels))
            if block == 0:  # the stage changes the width (and, after the first, the resolution)
                params += (_conv(f"{name}.downsample.0", out_channels, in_channels, 1)
                           + _batch_norm(f"{name}.downsample.1", out_channels))
            in_channels = out_channels
    params += [("fc.weight", (IMAGENET_CLASSES, in_channels)), ("fc.bias", (IMAGENET_CLASSES,))]
    return _checked("resnet50", params)


def _gpt2_linear(name: str, in_features: int, out_features: int) -> list[Parameter]:
    """GPT-2's Conv1D: a linear layer whose weight is stored (in, out)."""
    return [(f"{name}.weight", (in_features, out_features)), (f"{name}.bias", (out_features,))]


def _layer_norm(name: str, width: int) -> list[Parameter]:
    return [(f"{name}.weight", (width,)), (f"{name}.bias", (width,))]


def gpt2_small() -> list[Parameter]:
    """GPT-2 small: token and position embeddings, transformer blocks (layer norm, fused q/k/v
    projection, attention output projection, layer norm, MLP up and down projections), a final layer
    norm; the language-model head shares the token embedding's weight."""
    d = GPT2_WIDTH
    params: list[Parameter] = [("wte.weight", (GPT2_VOCAB, d)), ("wpe.weight", (GPT2_POSITIONS, d))]
    for layer in range(GPT2_LAYERS):
        name = f"h.{layer}"
        params += (_layer_norm(f"{name}.ln_1", d) + _gpt2_linear(f"{name}.attn.c_attn", d, 3 * d)
                   + _gpt2_linear(f"{name}.attn.c_proj", d, d) + _layer_norm(f"{name}.ln_2", d)
                   + _gpt2_linear(f"{name}.mlp.c_fc", d, GPT2_MLP_EXPANSION * d)
                   + _gpt2_linear(f"{name}.mlp.c_proj", GPT2_MLP_EXPANSION * d, d))
    params += _layer_norm("ln_f", d)
    return _checked("gpt2-small", params)


def parameter_count(params: list[Parameter]) -> int:
    """The number of elements of a list of (name, shape) parameters."""
    return sum(math.prod(shape) for _, shape in params)


def _checked(model: str, params: list[Parameter]) -> list[Parameter]:
    count = parameter_count(params)
    if count != EXPECTED_PARAMETERS[model]:
        raise AssertionError(f"{model}: the derived shapes hold {count:,} parameters, the "
                             f"published count is {EXPECTED_PARAMETERS[model]:,}")
    return params


MODELS = {"resnet50": resnet50, "gpt2-small": gpt2_small}
