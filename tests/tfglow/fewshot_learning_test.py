"""A trained few-shot Glow uses its support set: NLL of new Omniglot classes falls with K."""

import os

import numpy as np
import pytest
import tensorflow as tf

from tfglow import data
from tfglow.fewshot import restore

# A run that learns to use the support takes thousands of steps (about an hour on 2 CPU cores;
# a 400-step run of a small model does not yet, measured), too long for the test suite: point
# this variable at a finished `configs/omniglot_fewshot_glow.py` workdir to run the check.
WORKDIR = os.environ.get('TFGLOW_FEWSHOT_WORKDIR', '')


@pytest.mark.slow
@pytest.mark.skipif(not WORKDIR, reason='set TFGLOW_FEWSHOT_WORKDIR to a trained workdir')
class FewShotGlowLearnsFromTheSupportTest(tf.test.TestCase):
    def test_conditional_nll_of_new_classes_falls_from_one_to_five_shots(self):
        workdir = WORKDIR
        loaded = restore.load_workdir(workdir, num_noise_samples=2)
        # Evaluation classes only: the model never saw them. One target per class and five
        # other images of its class; the 1-shot support is the first of those five.
        classes = data.load_class_arrays(loaded.config.data, 'test')
        rng = np.random.default_rng(0)
        targets, supports = [], []
        for images in list(classes.values())[:200]:
            order = rng.permutation(len(images))
            targets.append(images[order[0]])
            supports.append(images[order[1:6]])
        targets, supports = np.stack(targets), np.stack(supports)

        def nll(support):
            # The same seed gives every target the same noise under both supports.
            log_probs = loaded.adapter.log_prob_discrete(targets, support=support, seed=0)
            return -np.asarray(log_probs['dequantized_iw'])

        one_shot, five_shot = nll(supports[:, :1]), nll(supports)
        gain = one_shot - five_shot
        stderr = gain.std(ddof=1) / np.sqrt(len(gain))
        # A paired comparison: the same targets and noise, nested supports.
        self.assertGreater(gain.mean(), 3 * stderr, f'gain {gain.mean():.2f} +- {stderr:.2f}')
        empty = nll(None)
        self.assertLess(one_shot.mean(), empty.mean())


if __name__ == '__main__':
    tf.test.main()
