"""Particle-Flow and Energy-Flow Networks on calorimeter cells as particles (docs/reference.md 2).

"Learning to Isolate Muons" also trains the deep-sets networks of Komiske, Metodiev and Thaler
(energyflow's definitions, written here in Keras 3 so that one Keras serves every model):

* PFN: F(sum_i Phi(p_i)), p_i = (z_i, eta_i, phi_i) - any function of the particles;
* EFN: F(sum_i z_i Phi(eta_i, phi_i)) - linear in the energies, hence IRC safe.

Particles are the jet constituents of the top-tagging analysis as they are unpacked
((pT / pT_jet, Delta eta, Delta phi), zero-padded; hepml.jets.preprocess), or the non-zero
pixels of an image: z_i the pixel value (ET, scaled by the
training preprocessor's one constant per image key, so still linear in ET), (eta_i, phi_i) the
pixel centre relative to the image centre from :mod:`hepml.geometry`, divided by the image
half-width (so they lie in [-1, 1]).  The ``max_particles`` hottest pixels are kept, sorted by
falling z; events with fewer are padded with all-zero particles, and padding contributes
nothing: the PFN multiplies Phi by a mask (a particle is real when any feature is non-zero, as
energyflow does), the EFN weights Phi by z = 0.

Models are built from Keras layers and ``keras.ops`` only, so a saved ``model.keras`` loads
with plain ``keras.models.load_model`` (no custom objects to register).  Builders follow the
extension point of :mod:`hepml.models.networks`: ``builder(specs, network)`` with one image input
named after its key, returning an uncompiled model with a (N, 1) sigmoid output.  Network
settings map as: Phi = ``dense_layers`` ReLU layers of ``units`` (the last one
``latent_size`` wide, default ``units``), F = ``dense_layers`` ReLU layers of ``units`` with
``dropout`` after each, ``max_particles`` cells kept.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
from keras import ops

from hepml.geometry import ImageGeometry, geometry_for
from hepml.models.networks import InputSpec, register_builder
from hepml.settings import NetworkSettings

N_FEATURES = 3  # (z, eta, phi) per particle


def scaled_coordinates(geometry: ImageGeometry) -> tuple[np.ndarray, np.ndarray]:
    """(eta, phi), each (n_phi * n_eta,) float32 in row-major pixel order: pixel centres
    relative to the image centre divided by the image half-width in eta (docs/reference.md
    "Image geometry"; phi follows the geometry's row orientation)."""
    eta, phi = geometry.pixel_coordinates()
    half_width = geometry.n_eta * geometry.d_eta / 2.0
    return (
        (eta.ravel() / half_width).astype(np.float32),
        (phi.ravel() / half_width).astype(np.float32),
    )


def image_particles(images: np.ndarray, geometry: ImageGeometry, max_particles: int) -> np.ndarray:
    """Reference (NumPy) conversion of images to particles.

    images: (N, n_phi, n_eta) or (N, n_phi, n_eta, 1) pixel values (ET in GeV, or scaled).
    Returns (N, max_particles, 3) float32: (z, eta, phi) of the hottest non-zero pixels,
    sorted by falling z (ties by pixel order), zero-padded; coordinates as in
    :func:`scaled_coordinates`.
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.shape[1:] != geometry.shape:
        raise ValueError(
            f"images: expected (N, {geometry.n_phi}, {geometry.n_eta}[, 1]) for geometry "
            f"{geometry.name!r}, got {images.shape}"
        )
    flat = images.reshape(len(images), -1)
    k = min(max_particles, flat.shape[1])
    order = np.argsort(-flat, axis=1, kind="stable")[:, :k]
    z = np.take_along_axis(flat, order, axis=1)
    real = z > 0
    eta, phi = scaled_coordinates(geometry)
    particles = np.zeros((len(images), max_particles, N_FEATURES), dtype=np.float32)
    particles[:, :k, 0] = np.where(real, z, 0.0)
    particles[:, :k, 1] = np.where(real, eta[order], 0.0)
    particles[:, :k, 2] = np.where(real, phi[order], 0.0)
    return particles


def particles_from_image(
    image: keras.KerasTensor, geometry: ImageGeometry, max_particles: int
) -> keras.KerasTensor:
    """Symbolic version of :func:`image_particles`: (N, n_phi, n_eta, 1) -> (N, P, 3).

    P = min(max_particles, pixels).  Pixels with z <= 0 become all-zero (padding) particles.
    """
    n_pixels = geometry.n_phi * geometry.n_eta
    flat = keras.layers.Reshape((n_pixels,), name="pixels")(image)
    z, index = ops.top_k(flat, k=min(max_particles, n_pixels), sorted=True)
    real = ops.cast(ops.greater(z, 0.0), z.dtype)
    eta_table, phi_table = scaled_coordinates(geometry)
    eta = ops.take(ops.convert_to_tensor(eta_table), index) * real
    phi = ops.take(ops.convert_to_tensor(phi_table), index) * real
    return ops.stack([z * real, eta, phi], axis=-1)


def _phi_sizes(network: NetworkSettings) -> list[int]:
    latent = network.latent_size or network.units
    return [network.units] * (network.dense_layers - 1) + [latent]


def _dense_stack(x, sizes: Sequence[int], name: str, dropout: float = 0.0):
    for i, size in enumerate(sizes):
        x = keras.layers.Dense(size, activation="relu", name=f"{name}{i}")(x)
        if dropout > 0:
            x = keras.layers.Dropout(dropout, name=f"{name}_dropout{i}")(x)
    return x


def _head(latent, network: NetworkSettings):
    """F: dense ReLU layers with dropout, then a float32 sigmoid (mixed-precision safe)."""
    x = _dense_stack(latent, [network.units] * network.dense_layers, "F", network.dropout)
    return keras.layers.Dense(1, activation="sigmoid", dtype="float32", name="score")(x)


def pfn_on_particles(network: NetworkSettings, name: str = "pfn_particles") -> keras.Model:
    """PFN on particles (N, P, 3) for any P: F(sum_i mask_i Phi(z_i, eta_i, phi_i)).

    mask_i = 1 when any feature of particle i is non-zero, so all-zero padding adds nothing.
    Phi sees z_i multiplied by ``max_particles``: the preprocessor scales images to sum about 1,
    so this puts a typical cell's z near 1, next to coordinates in [-1, 1] (without it the
    first epochs barely move; the EFN needs no such factor, its z only weights Phi).
    """
    particles = keras.Input(shape=(None, N_FEATURES), name="particles")
    mask = ops.cast(ops.any(ops.not_equal(particles, 0.0), axis=-1, keepdims=True), "float32")
    feature_scale = np.array([network.max_particles, 1.0, 1.0], dtype=np.float32)
    phi = _dense_stack(particles * ops.convert_to_tensor(feature_scale), _phi_sizes(network), "Phi")
    latent = ops.sum(phi * ops.cast(mask, phi.dtype), axis=1)
    return keras.Model(particles, _head(latent, network), name=name)


def efn_on_particles(network: NetworkSettings, name: str = "efn_particles") -> keras.Model:
    """EFN on particles (N, P, 3) for any P: F(sum_i z_i Phi(eta_i, phi_i)).

    Linear in the z_i: splitting a particle into collinear parts or adding z = 0 particles
    (padding, infinitely soft emissions) leaves the output unchanged (IRC safety).
    """
    particles = keras.Input(shape=(None, N_FEATURES), name="particles")
    z = particles[..., :1]
    phi = _dense_stack(particles[..., 1:], _phi_sizes(network), "Phi")
    latent = ops.sum(phi * ops.cast(z, phi.dtype), axis=1)
    return keras.Model(particles, _head(latent, network), name=name)


def _build_on_image(kind: str, specs: Sequence[InputSpec], network: NetworkSettings) -> keras.Model:
    """Image input -> particles -> PFN or EFN (the particle model is a nested sub-model); a
    particle-list input (jet constituents, (P, 3)) goes to the particle model as it is."""
    core = (pfn_on_particles if kind == "pfn" else efn_on_particles)(
        network, name=f"{kind}_particles"
    )
    if len(specs) == 1 and specs[0].is_particles:
        spec = specs[0]
        if spec.shape[-1] != N_FEATURES:
            raise ValueError(
                f"{kind}: particle input {spec.name!r} has {spec.shape[-1]} features per "
                f"particle, expected {N_FEATURES} (z, eta, phi)"
            )
        particles = keras.Input(shape=spec.shape, name=spec.name)
        return keras.Model(inputs={spec.name: particles}, outputs=core(particles), name=kind)
    images = [spec for spec in specs if spec.is_image]
    if len(specs) != 1 or len(images) != 1 or images[0].shape[-1] != 1:
        raise ValueError(
            f"{kind}: expects exactly one single-channel image input (a feature set like "
            f"{{inputs: [images], models: [{kind}]}}) or one particle list (jet constituents), "
            f"got {[(s.name, s.shape) for s in specs]}"
        )
    spec = images[0]
    geometry = geometry_for(spec.name)
    if spec.shape[:2] != geometry.shape:
        raise ValueError(
            f"{kind}: input {spec.name!r} has shape {spec.shape}, but its geometry "
            f"{geometry.name!r} is {geometry.shape}"
        )
    image = keras.Input(shape=spec.shape, name=spec.name)
    particles = particles_from_image(image, geometry, network.max_particles)
    return keras.Model(inputs={spec.name: image}, outputs=core(particles), name=kind)


@register_builder("pfn")
def build_pfn(specs: Sequence[InputSpec], network: NetworkSettings) -> keras.Model:
    """Particle-Flow Network on the cells of one image input (docs/reference.md 2)."""
    return _build_on_image("pfn", specs, network)


@register_builder("efn")
def build_efn(specs: Sequence[InputSpec], network: NetworkSettings) -> keras.Model:
    """Energy-Flow Network (IRC safe) on the cells of one image input (docs/reference.md 2)."""
    return _build_on_image("efn", specs, network)
