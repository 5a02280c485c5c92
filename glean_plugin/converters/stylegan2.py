"""Convert rosinality's or NVIDIA's StyleGAN2 checkpoints to MMagic's layout.

The result is what MMagic's StyleGAN2 checkpoints hold and what the configs'
``init_cfg=dict(type='Pretrained', prefix='generator_ema' | 'discriminator')``
load strictly into ``StyleGAN2LatentBank`` (GLEANNet's ``generator``) and
``GLEANDiscriminator``::

    {'state_dict': {'generator_ema.<key>': ..., 'discriminator.<key>': ...},
     'meta': {...}}
"""
import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Optional, Tuple

import torch

from ..checkpoint import CheckpointMismatchError, format_key_list
from . import nvidia, rosinality
from .files import PersistentObject, StandIn, module_state
from .layout import (DEFAULT_LR_MLP, ConversionWarning, DiscriminatorArch,
                     GeneratorArch, check_option, fit_channel_table,
                     lr_rescale)

__all__ = ['GENERATOR_PREFIX', 'DISCRIMINATOR_PREFIX', 'SOURCE_FORMATS',
           'SourceNetworks', 'convert_stylegan2', 'split_source']

GENERATOR_PREFIX = 'generator_ema'
DISCRIMINATOR_PREFIX = 'discriminator'
# Source layout -> its converter module (NAME, markers, infer_*, convert_*).
SOURCE_FORMATS = {'rosinality': rosinality, 'nvidia': nvidia}
# Top-level entries naming (generator, discriminator) in each layout.
_CONTAINER_KEYS = (('g_ema', 'd'), ('G_ema', 'D'))
# MMagic's minibatch-stddev group size (GLEANDiscriminator's default).
DEFAULT_MBSTD_GROUP = 4
EXPECTED_LAYOUTS = (
    "rosinality's stylegan2-pytorch (a dict with 'g_ema' and optionally 'd' "
    "and 'latent_avg', or a bare generator state dict; generator keys like "
    "'style.1.weight', 'input.input', 'conv1.conv.weight') or NVIDIA's "
    "stylegan2-ada-pytorch (a network pickle, or a dict with 'G_ema' and "
    "optionally 'D' holding state dicts; generator keys like "
    "'synthesis.b4.const', 'mapping.fc0.weight')")


@dataclass
class SourceNetworks:
    """The networks found in a source checkpoint.

    Attributes:
        format (str): 'rosinality' or 'nvidia'.
        generator (dict[str, Tensor]): the EMA generator's state dict.
        discriminator (dict[str, Tensor], optional): the discriminator's.
        names (tuple[str, str | None]): where they were, e.g. ('g_ema', 'd').
        generator_attrs (dict): module path -> plain attributes (from
            NVIDIA's pickles; empty for state dicts).
        discriminator_attrs (dict): likewise.
        w_avg (Tensor, optional): the tracked mean latent.
    """
    format: str
    generator: Dict[str, torch.Tensor]
    discriminator: Optional[Dict[str, torch.Tensor]]
    names: Tuple[str, Optional[str]]
    generator_attrs: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    discriminator_attrs: Dict[str, Dict[str, Any]] = field(
        default_factory=dict)
    w_avg: Optional[torch.Tensor] = None


def _describe_found(obj: Any) -> str:
    if isinstance(obj, Mapping):
        return f'a dict with keys: {format_key_list(map(str, obj))}'
    if isinstance(obj, PersistentObject):
        return f'a pickled {obj.class_name}'
    return f'a {type(obj).__name__}'


def _unknown_layout(source: str, obj: Any, extra: str = '') -> Exception:
    return CheckpointMismatchError(
        f'{source} is not a StyleGAN2 checkpoint this converter knows. '
        f'Expected {EXPECTED_LAYOUTS}; found {_describe_found(obj)}{extra}')


def _is_tensor_dict(obj: Any) -> bool:
    return isinstance(obj, Mapping) and bool(obj) and all(
        isinstance(v, torch.Tensor) for v in obj.values())


def _network_state(net: Any, name: str, source: str
                   ) -> Tuple[Dict[str, torch.Tensor], Dict[str, Dict]]:
    if _is_tensor_dict(net):
        return {k: v.detach() for k, v in net.items()}, {}
    if isinstance(net, (PersistentObject, torch.nn.Module)):
        return module_state(net, name)
    raise CheckpointMismatchError(
        f"{source}: '{name}' holds {_describe_found(net)}, expected a state "
        'dict of tensors or a network')


def _split_prefixed(obj: Mapping[str, Any]) -> Optional[Dict[str, Any]]:
    """{'G_ema': {...}, 'D': {...}} from flat 'G_ema.<key>' / 'D.<key>'."""
    for names in _CONTAINER_KEYS:
        heads = [n + '.' for n in names]
        if any(str(k).startswith(heads[0]) for k in obj):
            return {
                name: {k[len(head):]: v for k, v in obj.items()
                       if k.startswith(head)}
                for name, head in zip(names, heads)
                if any(k.startswith(head) for k in obj)
            }
    return None


def _check_not_unsupported(obj: Any, source: str) -> None:
    if isinstance(obj, tuple) and any(
            isinstance(x, StandIn) and 'tflib' in type(x).__module__
            for x in obj):
        raise CheckpointMismatchError(
            f'{source} is a TensorFlow StyleGAN2 pickle (dnnlib.tflib). '
            "Convert it to PyTorch first, with NVIDIA's stylegan2-ada-pytorch "
            "(legacy.py) or rosinality's convert_weight.py, then convert "
            'that')
    if isinstance(obj, Mapping):
        state = obj.get('state_dict', obj)
        if isinstance(state, Mapping) and any(
                str(k).startswith((GENERATOR_PREFIX + '.', 'generator.'))
                for k in state):
            raise CheckpointMismatchError(
                f"{source} is already in MMagic's layout (keys under "
                f"'{GENERATOR_PREFIX}.' / 'generator.'): nothing to convert")


def _entries(obj: Any, source: str
             ) -> Tuple[Mapping[Any, Any], Optional[str], Optional[str]]:
    """(container, generator entry, discriminator entry) of a checkpoint;
    entry None: the container is the bare generator state dict."""
    _check_not_unsupported(obj, source)
    if isinstance(obj, PersistentObject):  # a pickled generator alone
        obj = {'G_ema': obj}
    if not isinstance(obj, Mapping):
        raise _unknown_layout(source, obj)
    if _is_tensor_dict(obj):
        obj = _split_prefixed(obj) or {None: obj}
    for g_name, d_name in _CONTAINER_KEYS + ((None, None), ):
        if g_name in obj:
            return obj, g_name, d_name
    raise _unknown_layout(source, obj)


def _layout_of(generator: Mapping[str, torch.Tensor]) -> Optional[str]:
    for fmt, module in SOURCE_FORMATS.items():
        if all(k in generator for k in module.GENERATOR_MARKERS):
            return fmt
    return None


def split_source(obj: Any, source: str = 'the checkpoint') -> SourceNetworks:
    """Find the EMA generator and the discriminator, and their layout.

    Args:
        obj (Any): what ``load_stylegan2_source`` returned.
        source (str): its name, for messages.

    Returns:
        SourceNetworks: the networks' state dicts and layout.

    Raises:
        CheckpointMismatchError: neither layout is recognised (the message
            says what was expected and what was found).
    """
    obj, g_name, d_name = _entries(obj, source)
    generator, g_attrs = _network_state(obj[g_name], g_name or 'generator',
                                        source)
    fmt = _layout_of(generator)
    if fmt is None:
        where = f" (in '{g_name}')" if g_name else ''
        raise _unknown_layout(source, obj, f'; generator keys{where}: '
                              f'{format_key_list(generator)}')
    module = SOURCE_FORMATS[fmt]
    discriminator, d_attrs = None, {}
    if d_name is not None and d_name in obj:
        discriminator, d_attrs = _network_state(obj[d_name], d_name, source)
        if not all(k in discriminator for k in module.DISCRIMINATOR_MARKERS):
            raise CheckpointMismatchError(
                f'{source}: the generator is in {module.NAME} layout, but the '
                f"discriminator '{d_name}' is not (expected keys "
                f'{list(module.DISCRIMINATOR_MARKERS)}; found '
                f'{format_key_list(discriminator)})')
    w_avg = obj.get('latent_avg') if fmt == 'rosinality' else \
        generator.get('mapping.w_avg')
    return SourceNetworks(
        format=fmt, generator=generator, discriminator=discriminator,
        names=(g_name or 'generator',
               d_name if discriminator is not None else None),
        generator_attrs=g_attrs, discriminator_attrs=d_attrs,
        w_avg=w_avg if isinstance(w_avg, torch.Tensor) else None)


def _source_lr(nets: SourceNetworks, given: Optional[float]) -> float:
    """The mapping's lr multiplier: NVIDIA's pickles store it (bias_gain)."""
    stored = nets.generator_attrs.get('mapping.fc0', {}).get('bias_gain')
    if stored is None:
        return DEFAULT_LR_MLP if given is None else given
    stored = float(stored)
    if given is not None and not math.isclose(given, stored, rel_tol=1e-6):
        raise ValueError(
            f'source_lr_mlp={given} was given, but the pickled mapping '
            f'network has lr_multiplier={stored:g}')
    return stored


def _warn_conv_clamp(attrs: Mapping[str, Mapping[str, Any]],
                     what: str) -> None:
    clamps = {a.get('conv_clamp') for a in attrs.values()} - {None}
    if clamps:
        warnings.warn(
            f'{what} clamps conv outputs to +-{max(clamps):g} (conv_clamp, '
            "stylegan2-ada's setting for mixed precision); MMagic's StyleGAN2 "
            'clamps only with fp16_enabled=True, so outputs differ wherever '
            'activations exceed the clamp', ConversionWarning)


def _generator_arch(nets: SourceNetworks, what: str, size, style_channels,
                    num_mlps, channel_multiplier,
                    max_channels) -> GeneratorArch:
    module = SOURCE_FORMATS[nets.format]
    found = module.infer_generator(nets.generator)
    check_option('size', size, found['size'], what)
    check_option('style_channels', style_channels, found['style_channels'],
                 what)
    check_option('num_mlps', num_mlps, found['num_mlps'], what)
    multiplier, cap = fit_channel_table(found['table'], what,
                                        channel_multiplier, max_channels)
    return GeneratorArch(found['size'], found['style_channels'],
                         found['num_mlps'], multiplier, cap,
                         found['img_channels'])


def _discriminator_arch(nets: SourceNetworks, what: str,
                        generator: GeneratorArch, channel_multiplier,
                        max_channels) -> DiscriminatorArch:
    module = SOURCE_FORMATS[nets.format]
    found = module.infer_discriminator(nets.discriminator)
    if found['size'] != generator.out_size:
        raise CheckpointMismatchError(
            f'{what} takes {found["size"]}x{found["size"]} images, but the '
            f'generator makes {generator.out_size}x{generator.out_size} ones')
    multiplier, cap = fit_channel_table(
        found['table'], what, channel_multiplier, max_channels,
        prefer=[(generator.channel_multiplier, generator.max_channels)])
    return DiscriminatorArch(found['size'], multiplier, cap,
                             found['img_channels'], found['mbstd_channels'])


def _convert_discriminator(nets: SourceNetworks, source_name: str,
                           generator: GeneratorArch,
                           channel_multiplier: Optional[int],
                           max_channels: Optional[int]
                           ) -> Tuple[Dict[str, torch.Tensor], dict]:
    """The discriminator's MMagic state dict and GLEANDiscriminator args."""
    what = f"the discriminator '{nets.names[1]}' of {source_name}"
    arch = _discriminator_arch(nets, what, generator, channel_multiplier,
                               max_channels)
    state = SOURCE_FORMATS[nets.format].convert_discriminator(
        nets.discriminator, arch)
    _warn_conv_clamp(nets.discriminator_attrs, what)
    # NVIDIA's pickles know the group size (None: the whole batch, which
    # MMagic's layer cannot express; its default is kept then)
    group = nets.discriminator_attrs.get('b4.mbstd', {}).get('group_size')
    group = DEFAULT_MBSTD_GROUP if group is None else int(group)
    cfg = dict(in_size=arch.in_size,
               channel_multiplier=arch.channel_multiplier,
               max_channels=arch.max_channels,
               mbstd_cfg=dict(group_size=group,
                              channel_groups=arch.mbstd_channels))
    return state, cfg


def convert_stylegan2(source: Any,
                      size: Optional[int] = None,
                      channel_multiplier: Optional[int] = None,
                      max_channels: Optional[int] = None,
                      style_channels: Optional[int] = None,
                      num_mlps: Optional[int] = None,
                      lr_mlp: float = DEFAULT_LR_MLP,
                      source_lr_mlp: Optional[float] = None,
                      source_name: str = 'the checkpoint') -> Dict[str, Any]:
    """Convert a StyleGAN2 checkpoint to MMagic's layout.

    Hyper-parameters are read off the tensors; each one given here must
    agree with them (it is a check, and picks among equally valid channel
    tables).

    Args:
        source (Any): a loaded checkpoint (``load_stylegan2_source``):
            rosinality's ``{'g_ema', 'd', 'latent_avg', ...}``, NVIDIA's
            ``{'G_ema', 'D', ...}`` (networks or state dicts), or a bare
            generator state dict of either.
        size (int, optional): expected resolution.
        channel_multiplier (int, optional): expected channel multiplier.
        max_channels (int, optional): expected channel cap (small models).
        style_channels (int, optional): expected latent size.
        num_mlps (int, optional): expected mapping depth.
        lr_mlp (float): the mapping learning-rate multiplier of the model
            the result is loaded into. Default: 0.01.
        source_lr_mlp (float, optional): that of the source; read from
            NVIDIA's pickles, else 0.01 (both repositories' default).
        source_name (str): the source's name, for messages and meta.

    Returns:
        dict: ``{'state_dict': {'generator_ema.<key>': Tensor,
        'discriminator.<key>': Tensor}, 'meta': {...}}``; ``meta`` holds
        the source layout, ``generator_cfg`` / ``discriminator_cfg`` (the
        arguments of ``GLEANNet`` / ``StyleGAN2LatentBank`` and
        ``GLEANDiscriminator`` that load it) and ``w_avg`` (the mean
        latent) when the source has one.

    Raises:
        CheckpointMismatchError: the layout is not recognised, or its keys
            and shapes do not fit one StyleGAN2 architecture.
        ValueError: a given option disagrees with the tensors.

    Warns:
        ConversionWarning: no discriminator in the source; NVIDIA's
            networks clamp activations (``conv_clamp``).
    """
    nets = split_source(source, source_name)
    module = SOURCE_FORMATS[nets.format]
    g_what = f"the generator '{nets.names[0]}' of {source_name}"
    g_arch = _generator_arch(nets, g_what, size, style_channels, num_mlps,
                             channel_multiplier, max_channels)
    mapping_fn = lr_rescale(_source_lr(nets, source_lr_mlp), lr_mlp)
    state = {
        f'{GENERATOR_PREFIX}.{k}': v for k, v in module.convert_generator(
            nets.generator, g_arch, mapping_fn).items()
    }
    _warn_conv_clamp(nets.generator_attrs, g_what)
    g_cfg = dict(out_size=g_arch.out_size,
                 style_channels=g_arch.style_channels,
                 num_mlps=g_arch.num_mlps,
                 channel_multiplier=g_arch.channel_multiplier,
                 max_channels=g_arch.max_channels, lr_mlp=lr_mlp)
    meta = dict(converted_from=module.NAME, source=source_name,
                generator_cfg=g_cfg)
    if nets.discriminator is None:
        warnings.warn(
            f'{source_name} has no discriminator; the result holds '
            f"'{GENERATOR_PREFIX}' only, so configs that also load "
            f"'{DISCRIMINATOR_PREFIX}' from it will fail", ConversionWarning)
    else:
        d_state, meta['discriminator_cfg'] = _convert_discriminator(
            nets, source_name, g_arch, channel_multiplier, max_channels)
        state.update({f'{DISCRIMINATOR_PREFIX}.{k}': v
                      for k, v in d_state.items()})
    if nets.w_avg is not None:
        meta['w_avg'] = nets.w_avg.detach().clone().float()
    return dict(state_dict=state, meta=meta)
