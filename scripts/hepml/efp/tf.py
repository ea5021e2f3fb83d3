"""TensorFlow backend of the EFP engine (``EFPEngine(..., backend="gpu")``, ``efp.backend: gpu``).

The same compiled plan as the numpy engine (`hepml.efp.engine.EFPEngine`: the same interned
nodes, in the same order, with the same frees), run with TensorFlow operations in float64 on the
device TensorFlow picks (the first GPU when there is one, else the CPU, where the tests run it).
The pixel-pair tables theta ** e live on the device; a batch goes there once as (pixel, ET,
mask) arrays and comes back as its (B, n_columns) EFPs. Particle lists (an engine without a
geometry) go as ((eta, phi), ET, mask) and their theta ** e are powers of the batch's squared
distances, computed there.

Differences from the numpy path, none of which changes a value beyond round-off: the c = 4
cores are always K4 pair sums (the plan's "pairq" and "k4sum" nodes, `k4.k4_pair_form`,
with the same symmetric shortcuts) done for all events of a batch at once, whatever the
width. TensorFlow is imported here only, so the CPU engine never needs it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class TFBatchRunner:
    """Runs one `EFPEngine`'s plan on padded batches with TensorFlow (float64)."""

    def __init__(self, engine, element_budget: int = 1 << 26):
        import tensorflow as tf

        self.tf = tf
        self.engine = engine
        self.element_budget = int(element_budget)
        self._tables: dict[float, object] = {}
        devices = tf.config.list_logical_devices("GPU")
        self.device = devices[0].name if devices else "/CPU:0"

    def _table(self, exponent: float):
        table = self._tables.get(exponent)
        if table is None:
            with self.tf.device(self.device):
                table = self.tf.constant(self.engine._table(exponent), dtype=self.tf.float64)
            self._tables[exponent] = table
        return table

    def _particle_d2(self, positions):
        """(B, M, M) squared distances of particles (B, M, 2) (eta, phi), phi the short way
        round (`hepml.efp.engine.particle_d2`)."""
        tf = self.tf
        d_eta = positions[:, :, None, 0] - positions[:, None, :, 0]
        d_phi = tf.abs(positions[:, :, None, 1] - positions[:, None, :, 1])
        d_phi = np.pi - tf.abs(d_phi - np.pi)
        return d_eta**2 + d_phi**2

    def _theta(self, exponent: float, pairs):
        """theta ** exponent: gathered from the pixel-pair table (images), or a power of the
        squared distances (particle lists)."""
        if not self.engine.particles:
            return self.tf.gather(self._table(exponent), pairs)
        if exponent == 2.0:
            return pairs
        if exponent == 1.0:
            return self.tf.sqrt(pairs)
        return self.tf.pow(pairs, exponent / 2.0)

    def run(self, pixels: np.ndarray, et: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """(B, n_columns) float64 EFPs of one padded batch (arguments as `EFPEngine._run_batch`)."""
        tf = self.tf
        steps, free_after, output_columns = self.engine.program(True)
        particles = self.engine.particles
        with tf.device(self.device):
            pixels_t = tf.constant(pixels, dtype=tf.float64 if particles else tf.int64)
            et_t = tf.constant(et, dtype=tf.float64)
            mask_t = tf.constant(mask)
            n_pixels = None if particles else self.engine.n_pixels
            values: list = [None] * len(steps)
            outputs: dict[int, object] = {}
            for position, (kind, arg, inputs) in enumerate(steps):
                args = [values[i] for i in inputs]
                if kind == "m":
                    value = tf.linalg.matvec(args[0], args[1])
                elif kind in ("y", "H", "Tmul"):
                    value = args[0] * args[1]
                    for extra in args[2:]:
                        value = value * extra
                elif kind == "S":
                    value = tf.linalg.matmul(args[0] * args[1][:, None, :], args[2])
                elif kind == "sum":
                    value = tf.reduce_sum(args[0], axis=1)
                elif kind == "t":
                    value = tf.linalg.matrix_transpose(args[0])
                elif kind == "gather":
                    value = self._theta(arg, args[0])
                elif kind == "z":
                    if arg == 0.0:
                        value = tf.cast(mask_t, tf.float64)
                    elif arg == 1.0:
                        value = et_t
                    else:
                        safe = tf.where(mask_t, et_t, tf.ones_like(et_t))
                        value = tf.where(mask_t, tf.pow(safe, arg), tf.zeros_like(et_t))
                elif kind == "pairs" and particles:
                    value = self._particle_d2(pixels_t)
                elif kind == "pairs":
                    value = pixels_t[:, :, None] * n_pixels + pixels_t[:, None, :]
                elif kind == "pairq":
                    value = self._pair_forms(arg, args)
                elif kind == "k4sum":
                    value = tf.einsum("bh,ba,bha,bha->b", *args)
                else:  # pragma: no cover - _Plan only builds the kinds above
                    raise AssertionError(kind)
                values[position] = value
                if position in output_columns:
                    outputs[position] = value
                for done in free_after[position]:
                    values[done] = None
        out = np.empty((len(et), len(self.engine.columns)))
        for position, value in outputs.items():
            out[:, output_columns[position]] = value.numpy()[:, None]
        return out

    def _pair_forms(self, flags: tuple[bool, bool], arrays: Sequence):
        """(B, M, M) K4 pair forms (`hepml.efp.k4.k4_pair_form`) of all events at once,
        rows of vertex pairs cut to element_budget; arrays: v_c, v_m, e_hc, e_ac, e_cm, e_hm,
        e_am."""
        tf = self.tf
        sym_ha, sym_cm = flags
        v_c, v_m, e_hc, e_ac, e_cm, e_hm, e_am = arrays
        n_events, width = (int(n) for n in v_c.shape)
        e_acv = e_ac * v_c[:, None, :]
        e_amv = e_am * v_m[:, None, :]
        rows = max(1, self.element_budget // max(n_events * width**2, 1))
        tile = max(16, min(128, width // 4 or 1))
        blocks = []
        for h0 in range(0, width, rows):
            h1 = min(h0 + rows, width)
            a0 = h0 if sym_ha else 0
            shape = (n_events, (h1 - h0) * (width - a0), width)
            left = tf.reshape(e_hc[:, h0:h1, None, :] * e_acv[:, None, a0:, :], shape)
            if sym_cm:  # half of the quadratic form, by column tiles
                q = tf.zeros(shape[:2], dtype=tf.float64)
                for c0 in range(0, width, tile):
                    c1 = min(c0 + tile, width)
                    product = tf.linalg.matmul(left[:, :, c0:c1], e_cm[:, c0:c1, c0:])
                    q += tf.reduce_sum(product[:, :, : c1 - c0] * left[:, :, c0:c1], axis=2)
                    q += 2.0 * tf.reduce_sum(product[:, :, c1 - c0 :] * left[:, :, c1:], axis=2)
            else:
                right = tf.reshape(e_hm[:, h0:h1, None, :] * e_amv[:, None, a0:, :], shape)
                q = tf.reduce_sum(tf.linalg.matmul(left, e_cm) * right, axis=2)
            q = tf.reshape(q, (n_events, h1 - h0, width - a0))
            blocks.append(tf.pad(q, [[0, 0], [0, 0], [a0, 0]]))
        form = tf.concat(blocks, axis=1)
        if sym_ha:
            upper = tf.linalg.band_part(form, 0, -1)
            strict = upper - tf.linalg.band_part(form, 0, 0)
            form = upper + tf.linalg.matrix_transpose(strict)
        return form
