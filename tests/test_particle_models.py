"""PFN / EFN on cells as particles: conversion, masking, IRC safety, saving, one-epoch smoke."""

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from hepml.geometry import MUON  # noqa: E402
from hepml.models.networks import InputSpec, build_model, compile_model  # noqa: E402
from hepml.models.particles import (  # noqa: E402
    efn_on_particles,
    image_particles,
    particles_from_image,
    pfn_on_particles,
)
from hepml.settings import NetworkSettings  # noqa: E402

SPEC = InputSpec("images", (*MUON.shape, 1))
CORES = {"pfn": pfn_on_particles, "efn": efn_on_particles}


def network(max_particles: int = 16, **changes) -> NetworkSettings:
    values = dict(
        conv_blocks=1, filters=1, dense_layers=2, units=8, learning_rate=1e-3, dropout=0.0,
        max_particles=max_particles,
    )  # fmt: skip
    return NetworkSettings(**{**values, **changes})


def sparse_images(n: int, occupancy: float = 0.01, seed: int = 0) -> np.ndarray:
    """(n, 32, 32, 1) float32 images with a few exponential ET cells, the rest zero."""
    rng = np.random.default_rng(seed)
    hit = rng.random((n, *MUON.shape, 1)) < occupancy
    return np.where(hit, rng.exponential(1.0, hit.shape) + 0.1, 0.0).astype(np.float32)


def random_particles(n: int, p: int, seed: int = 1) -> np.ndarray:
    """(n, p, 3) particles with small z > 0 (a scaled image's cells) and coordinates in [-1, 1]."""
    rng = np.random.default_rng(seed)
    z = 0.01 * rng.exponential(1.0, (n, p, 1)) + 0.001
    return np.concatenate([z, rng.uniform(-1, 1, (n, p, 2))], axis=-1).astype(np.float32)


def predict(model, x) -> np.ndarray:
    return np.asarray(model(x, training=False)).reshape(-1)


def randomise(model, seed: int = 0) -> None:
    """Random weights AND biases (zero biases would hide a missing mask: Phi(0) = 0)."""
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0.0, 0.3, w.shape).astype(w.dtype) for w in model.get_weights()])


def assert_unsaturated(score: np.ndarray) -> None:
    """Scores away from 0 and 1, so that comparing them can fail."""
    assert ((score > 1e-3) & (score < 1 - 1e-3)).all(), score


def test_image_particles_are_the_hottest_cells_at_their_pixel_centres():
    images = np.zeros((2, *MUON.shape, 1), dtype=np.float32)
    images[0, 3, 5, 0], images[0, 20, 30, 0], images[0, 0, 0, 0] = 2.0, 5.0, 1.0
    particles = image_particles(images, MUON, max_particles=4)
    eta, phi = MUON.pixel_coordinates()
    half_width = MUON.n_eta * MUON.d_eta / 2
    assert particles.shape == (2, 4, 3)
    np.testing.assert_allclose(particles[0, :3, 0], [5.0, 2.0, 1.0])
    for k, (row, col) in enumerate([(20, 30), (3, 5), (0, 0)]):
        np.testing.assert_allclose(particles[0, k, 1], eta[row, col] / half_width, rtol=1e-6)
        np.testing.assert_allclose(particles[0, k, 2], phi[row, col] / half_width, rtol=1e-6)
    assert particles[0, 1, 2] > 0 > particles[0, 0, 2]  # phi descends down the rows
    assert not particles[0, 3].any() and not particles[1].any()  # padding is all zero


def test_image_particles_keeps_only_max_particles():
    images = sparse_images(3, occupancy=0.2)
    particles = image_particles(images, MUON, max_particles=10)
    flat = images.reshape(3, -1)
    np.testing.assert_allclose(particles[..., 0], -np.sort(-flat, axis=1)[:, :10])
    with pytest.raises(ValueError, match="expected"):
        image_particles(np.zeros((2, 31, 31)), MUON, 10)


def test_keras_particles_match_the_numpy_reference():
    images = sparse_images(5, occupancy=0.015)  # continuous values: no ties among real cells
    image = keras.Input(SPEC.shape, name="images")
    model = keras.Model(image, particles_from_image(image, MUON, 24))
    expected = image_particles(images, MUON, 24)
    np.testing.assert_allclose(np.asarray(model(images)), expected, rtol=1e-6)


@pytest.mark.parametrize("kind", ["pfn", "efn"])
def test_padding_and_order_do_not_change_the_output(kind):
    keras.utils.set_random_seed(3)
    core = CORES[kind](network())
    randomise(core)
    particles = random_particles(4, 7)
    padded = np.concatenate([particles, np.zeros((4, 25, 3), np.float32)], axis=1)
    shuffled = padded[:, np.random.default_rng(0).permutation(32)]
    reference = predict(core, particles)
    assert_unsaturated(reference)
    np.testing.assert_allclose(predict(core, padded), reference, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(predict(core, shuffled), reference, rtol=1e-5, atol=1e-7)


def test_unmasked_padding_would_change_the_pfn_output():
    """The mask matters: a zero-energy particle with non-zero coordinates is a real PFN input."""
    keras.utils.set_random_seed(4)
    core = pfn_on_particles(network())
    particles = random_particles(4, 7)
    extra = np.zeros((4, 1, 3), np.float32)
    extra[..., 1:] = 0.5
    changed = predict(core, np.concatenate([particles, extra], axis=1))
    assert np.abs(changed - predict(core, particles)).max() > 1e-6


@pytest.mark.parametrize("kind", ["pfn", "efn"])
def test_image_model_output_does_not_depend_on_padding(kind):
    """Images with fewer hot cells than max_particles get padded; the padding adds nothing."""
    images = sparse_images(6, occupancy=0.01)
    images /= 20 * images.reshape(6, -1).sum(axis=1).mean()  # small z: unsaturated outputs
    n_cells = int((images.reshape(6, -1) > 0).sum(axis=1).max())
    keras.utils.set_random_seed(5)
    model = build_model(kind, [SPEC], network(max_particles=n_cells + 40))
    randomise(model)
    core = model.get_layer(f"{kind}_particles")
    padded = predict(model, {"images": images})
    unpadded = [
        predict(core, particles[None, : int((particles[:, 0] > 0).sum())])[0]
        for particles in image_particles(images, MUON, n_cells)
    ]
    assert_unsaturated(padded)
    np.testing.assert_allclose(padded, unpadded, rtol=1e-5)


def test_efn_is_irc_safe_and_pfn_is_not():
    keras.utils.set_random_seed(6)
    efn = efn_on_particles(network(units=16))
    pfn = pfn_on_particles(network(units=16))
    randomise(efn, 1)
    randomise(pfn, 2)
    particles = random_particles(5, 6)
    # Collinear splitting: particle 2 becomes two halves at the same (eta, phi).
    half = particles[:, 2:3].copy()
    half[..., 0] /= 2
    split = np.concatenate([particles[:, :2], half, half, particles[:, 3:]], axis=1)
    # Infrared: an extra particle with z = 0 at non-zero coordinates.
    soft = np.zeros((5, 1, 3), np.float32)
    soft[..., 1:] = (0.3, -0.7)
    with_soft = np.concatenate([particles, soft], axis=1)
    reference = predict(efn, particles)
    assert_unsaturated(reference)
    assert_unsaturated(predict(pfn, particles))
    np.testing.assert_allclose(predict(efn, split), reference, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(predict(efn, with_soft), reference, rtol=1e-5, atol=1e-7)
    assert np.abs(predict(pfn, split) - predict(pfn, particles)).max() > 1e-6


def test_builders_reject_other_inputs():
    with pytest.raises(ValueError, match="single-channel image"):
        build_model("pfn", [InputSpec("iso", (8,))], network())
    with pytest.raises(ValueError, match="single-channel image"):
        build_model("efn", [SPEC, InputSpec("pt", (1,))], network())


@pytest.mark.parametrize("kind", ["pfn", "efn"])
def test_saved_model_loads_without_custom_objects(kind, tmp_path):
    keras.utils.set_random_seed(7)
    model = build_model(kind, [SPEC], network(max_particles=12))
    images = sparse_images(4)
    path = tmp_path / f"{kind}.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    x = {"images": images}
    np.testing.assert_allclose(predict(loaded, x), predict(model, x), rtol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["pfn", "efn"])
def test_one_epoch_smoke(kind):
    keras.utils.set_random_seed(8)
    images = sparse_images(48, occupancy=0.03)
    y = images.reshape(48, -1).sum(axis=1) > np.median(images.reshape(48, -1).sum(axis=1))
    weight = np.random.default_rng(2).uniform(0.5, 1.5, 48)
    model = compile_model(build_model(kind, [SPEC], network()), 1e-2)
    history = model.fit({"images": images}, y.astype(np.float32), sample_weight=weight,
                        batch_size=16, epochs=1, verbose=0)  # fmt: skip
    assert np.isfinite(history.history["loss"][0])
    score = model.predict({"images": images}, verbose=0)
    assert score.shape == (48, 1) and ((score >= 0) & (score <= 1)).all()
    assert model.name == kind


@pytest.mark.parametrize("kind", ["pfn", "efn"])
def test_particle_list_input_goes_to_the_particle_model_as_it_is(kind):
    """Jet constituents (N, P, 3): the model on them equals the bare particle model, and extra
    zero-padded rows change nothing."""
    from hepml.models.networks import input_specs
    from hepml.training.preprocess import Preprocessor

    particles = random_particles(6, 5)
    specs = input_specs({"constituents": particles}, ["constituents"])
    assert specs == [InputSpec("constituents", (5, 3))] and specs[0].is_particles
    model = build_model(kind, specs, network())
    randomise(model)
    core = model.get_layer(f"{kind}_particles")
    score = predict(model, {"constituents": particles})
    assert_unsaturated(score)
    np.testing.assert_allclose(score, predict(core, particles), rtol=1e-6)
    padded = np.concatenate([particles, np.zeros((6, 4, 3), np.float32)], axis=1)
    np.testing.assert_allclose(predict(core, padded), score, rtol=1e-5, atol=1e-6)
    # the training preprocessor leaves particle lists unscaled (padding must stay zero)
    preprocessor = Preprocessor.fit({"constituents": particles}, ["constituents"])
    np.testing.assert_array_equal(
        preprocessor.transform({"constituents": particles})["constituents"], particles
    )
    assert preprocessor.to_dict()["inputs"][0]["kind"] == "particles"
    with pytest.raises(ValueError, match="features per particle"):
        build_model(kind, [InputSpec("constituents", (5, 4))], network())


def test_a_dnn_refuses_a_particle_list():
    with pytest.raises(ValueError, match="particle lists"):
        build_model("nn", [InputSpec("constituents", (5, 3))], network())
