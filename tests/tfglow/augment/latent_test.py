"""tfglow.augment.latent: the pixel <-> latent maps, the models they accept, restoring workdirs."""

import json
import os
import shutil

import numpy as np
import tensorflow as tf

import tfp_flows
import tfp_flows.dequantization as dq
from tests.tfglow.augment import helpers
from tfglow import pixels
from tfglow.augment import latent
from tfp_flows.distributions.few_shot_glow import FewShotGlow

SHAPE = (8, 8, 1)


def _glow(**kwargs):
    model = tfp_flows.Glow(SHAPE, num_levels=2, steps_per_level=1, hidden_width=8, seed=0, **kwargs)
    images = np.random.default_rng(0).integers(0, 256, [6, *SHAPE], dtype=np.uint8)
    init = {'label': tf.zeros([6], tf.int32)} if kwargs.get('num_classes') else {}
    model.initialize(dq.dequantize(dq.preprocess(images, 1), 1, seed=[0, 1]), **init)
    return model


class FlowCodecTest(tf.test.TestCase):
    def test_round_trip_gives_back_the_levels(self):
        codec = latent.FlowCodec(_glow(), n_bits=1)
        self.assertEqual(codec.latent_size, 64)
        self.assertEqual(codec.level_slices, [slice(0, 32), slice(32, 64)])
        grey = np.random.default_rng(1).integers(0, 256, [5, *SHAPE], dtype=np.uint8)
        z = codec.encode(grey, batch_size=2)
        self.assertEqual(z.shape, (5, 64))
        self.assertAllEqual(z, codec.encode(grey))  # Deterministic: bin centres.
        binary = pixels.to_uint8(pixels.to_levels(grey, 1), 1)
        self.assertAllEqual(codec.decode(z, batch_size=3), binary)
        self.assertAllEqual(np.unique(codec.decode(z)), [0, 255])

    def test_encodes_like_the_models_own_encode(self):
        model = _glow()
        codec = latent.FlowCodec(model, n_bits=1)
        images = np.full([1, *SHAPE], 255, np.uint8)
        levels = model.encode(dq.preprocess(images, 1) + 0.25)
        expected = np.concatenate([np.reshape(level.numpy(), [1, -1]) for level in levels], 1)
        self.assertAllClose(codec.encode(images), expected)

    def test_refuses_models_that_need_a_support_or_a_label(self):
        conditional = FewShotGlow(SHAPE, 2, 1, 8, context='vector', context_channels=4, seed=0)
        with self.assertRaisesRegex(ValueError, 'support-conditioned'):
            latent.FlowCodec(conditional, 1)
        with self.assertRaisesRegex(ValueError, 'class-conditional'):
            latent.FlowCodec(_glow(num_classes=3), 1)
        pixel_cnn = tfp_flows.PixelCNN(SHAPE, num_layers=1, hidden_width=4, seed=0)
        with self.assertRaisesRegex(ValueError, 'PixelCNN has no encode/decode'):
            latent.FlowCodec(pixel_cnn, 1)
        unconditional = FewShotGlow(SHAPE, 2, 1, 8, context='none', seed=0)
        self.assertEqual(latent.FlowCodec(unconditional, 1).latent_size, 64)

    def test_rejects_bad_arrays(self):
        codec = latent.FlowCodec(_glow(), n_bits=1)
        with self.assertRaisesRegex(ValueError, r'uint8 images \[N, 8, 8, 1\]'):
            codec.encode(np.zeros([2, 8, 8, 3], np.uint8))
        with self.assertRaisesRegex(ValueError, r'latents \[N, 64\]'):
            codec.decode(np.zeros([2, 63]))
        with self.assertRaisesRegex(ValueError, 'finite'):
            codec.decode(np.full([1, 64], np.nan))


class LoadCodecTest(tf.test.TestCase):
    def test_restores_an_unconditional_fewshot_run(self):
        workdir = helpers.smoke_workdir()
        codec = latent.load_codec(workdir, 'latest')
        self.assertEqual(codec.image_shape, (28, 28, 1))
        self.assertEqual(codec.latent_shapes, ((14, 14, 2), (7, 7, 8)))
        self.assertEqual(codec.step, helpers.TRAIN_STEPS)
        images = next(iter(helpers.omniglot('test', 1).values()))
        self.assertAllEqual(codec.decode(codec.encode(images)), images)

    def test_refuses_a_support_conditioned_run_by_name(self):
        workdir = os.path.join(self.get_temp_dir(), 'conditional')
        os.makedirs(workdir)
        shutil.copy(os.path.join(helpers.smoke_workdir(), 'config.json'), workdir)
        with open(os.path.join(workdir, 'config.json')) as f:
            config = json.load(f)
        config['model']['context'] = 'spatial'
        with open(os.path.join(workdir, 'config.json'), 'w') as f:
            json.dump(config, f)
        with self.assertRaisesRegex(ValueError, "unconditional variant.*context 'none'"):
            latent.load_codec(workdir)
        config['model']['name'] = 'pixel_cnn'
        with open(os.path.join(workdir, 'config.json'), 'w') as f:
            json.dump(config, f)
        with self.assertRaisesRegex(ValueError, "'pixel_cnn' model, which has no encode/decode"):
            latent.load_codec(workdir)
        with self.assertRaisesRegex(FileNotFoundError, 'does not exist'):
            latent.load_codec(os.path.join(workdir, 'missing'))


class ClassLatentsTest(tf.test.TestCase):
    def test_statistics_and_subsets(self):
        rng = np.random.default_rng(0)
        latents = latent.ClassLatents(
            names=['a/x', 'a/y', 'b/z'],
            groups=['a', 'a', 'b'],
            latents=rng.standard_normal([9, 4]).astype(np.float32),
            counts=np.array([2, 3, 4]),
        )
        self.assertAllEqual(latents.offsets, [0, 2, 5])
        self.assertAllClose(latents.means()[1], latents.latents[2:5].mean(axis=0))
        self.assertAllClose(latents.deviations()[5:].sum(axis=0), np.zeros(4), atol=1e-6)
        subset = latents.subset([2, 0])
        self.assertEqual(subset.names, ['b/z', 'a/x'])
        self.assertAllEqual(subset.of(1), latents.of(0))
        with self.assertRaisesRegex(ValueError, 'counts add up to 8'):
            latent.ClassLatents(['a'], [''], np.zeros([9, 4]), np.array([8]))


if __name__ == '__main__':
    tf.test.main()
