"""Few-shot Glow (`config.model.name = 'fewshot_glow'`): exact densities, dequantised bound.

```none
x      = preprocess(target, n_bits) + u / 2**n_bits,   u ~ q(u | target)   dequantised target
s      = preprocess(support, n_bits)                                       support, no noise
w      = log p(x | s) - log q(u | target)                                  log-weight of a draw
train: nats = D log(2**n_bits) - w                                         one noise draw
eval:  nats = D log(2**n_bits) - log mean_{i<S} exp(w_i)                   S = eval_noise_samples
```

`q` is uniform (`config.model.dequantization = 'uniform'`: `u ~ U(0, 1)`, `log q = 0`, openai/glow's
dequantisation) or the model's learned `tfp_flows.VariationalDequantizer` ('variational', Flow++),
which maps the same uniform draws to `u` and is trained jointly through the bound.

What the number is: the flow is a density, so `D log(2**n_bits) - w` in expectation over u is an
upper bound on the discrete NLL `-log P(target | support)` (Theis et al., 2016; Ho et al., 2019).
Averaging the weights `exp(w)` over S draws before the log (an importance-weighted estimate)
tightens the bound as S grows; its expectation never falls below the discrete NLL. Binary data
such as Omniglot uses `n_bits = 1`: two levels, noise of width 1/2.
"""

import math

import tensorflow as tf
from absl import logging

import tfp_flows.dequantization as dq
from tfglow import pixels
from tfglow.data import episodic as episodic_data
from tfglow.models import fewshot
from tfglow.tasks import base, episodic
from tfp_flows.distributions.variational_dequantizer import dequantized_log_weight

__all__ = ['FewShotGlowTask']


class FewShotGlowTask(episodic.EpisodicTask):
    """`tfp_flows.FewShotGlow` trained on episodes (see the module doc).

    Data-dependent init: the Glow's ActNorms on the first `n_batch_init` training episodes, given
    their supports. With `config.model.context = 'none'` the model ignores the support: the
    unconditional baseline trained on the same target images.
    """

    def build_model(self):
        return fewshot.build_fewshot_model(
            self.config.model, self.image_shape, seed=self.config.seed
        )

    def _support(self, model, episodes: dict) -> dict:
        """The conditioning kwargs of `model`: the preprocessed support and its mask, or none."""
        if not model.is_conditional:
            return {}
        return {
            'support': dq.preprocess(episodes['support'], self.config.model.n_bits_x),
            'support_mask': episodes['support_mask'],
        }

    def initialize(self, model) -> None:
        config = self.config
        episodes = next(
            iter(
                episodic_data.make_episodes(
                    self.train_class_arrays,
                    config.n_batch_init,
                    config.episodes.k_min,
                    config.episodes.k_max,
                    seed=config.seed,
                )
            )
        )
        n_bits = config.model.n_bits_x
        x = dq.dequantize(
            dq.preprocess(episodes['target'], n_bits),
            n_bits,
            seed=tf.constant([config.seed, base.INIT_NOISE_STREAM], tf.int64),
        )
        logging.info('Data-dependent init on %d episodes.', x.shape[0])
        model.initialize(x, **self._support(model, episodes))

    def is_initialized(self, model) -> bool:
        return bool(model.is_initialized)

    def train_dataset(self, input_context, start_step):
        dataset, first_batch = self.train_episodes(input_context, start_step)
        seed = base.noise_seed(
            self.config.seed, base.TRAIN_NOISE_STREAM, input_context.input_pipeline_id
        )
        return base.add_uniform_noise(dataset, 'target', seed, first_batch, samples=1)

    def eval_dataset(self):
        seed = base.noise_seed(episodic.EVAL_EPISODE_SEED, base.EVAL_NOISE_STREAM)
        samples = self.config.episodes.eval_noise_samples
        return base.add_uniform_noise(self.eval_episodes(), 'target', seed, 0, samples=samples)

    def target_nats(self, model, batch):
        """The dequantised NLL, averaging the weights over the noise samples `[B, S, ...]`."""
        n_bits = self.config.model.n_bits_x
        x = dq.preprocess(batch['target'], n_bits)
        support = self._support(model, batch)
        # The support is encoded once for all noise samples.
        batch_size = x.shape[0] if x.shape[0] is not None else tf.shape(x)[0]
        contexts = model.contexts(**support, batch_size=batch_size)
        noise = batch['noise']
        num_samples = noise.shape[1]
        log_probs = [
            dequantized_log_weight(
                lambda x_cont: model.glow.log_prob(x_cont, context=contexts),
                x,
                noise[:, i],
                n_bits,
                model.dequantizer,
            )
            for i in range(num_samples)
        ]
        log_prob = tf.reduce_logsumexp(tf.stack(log_probs, axis=1), axis=1)
        log_prob -= math.log(num_samples)
        return self.num_dims * math.log(dq.num_bins(n_bits)) - log_prob

    def sample_levels(self, model, episodes, num, temperature):
        n_bits = self.config.model.n_bits_x
        support = self._support(model, episodes)
        sets = len(episodes['support'])
        seed = self.config.seed
        if support:
            samples = model.sample(num, temperature=temperature, seed=seed, **support)
        else:
            # An unconditional model: `num` samples per row all the same, rows differ.
            samples = model.sample(num * sets, temperature=temperature, seed=seed)
            samples = tf.reshape(samples, [num, sets, *self.image_shape])
        levels = pixels.flow_to_levels(samples, n_bits)
        return levels.numpy().swapaxes(0, 1)

    def evaluation_details(self):
        samples = self.config.episodes.eval_noise_samples
        dequantization = self.config.model.get('dequantization', 'uniform')
        if dequantization == 'uniform':
            weights = f'p(target + u_i | support) over {samples} uniform noise draws u_i'
        else:
            weights = (
                f'p(target + u_i | support) / q(u_i | target) over {samples} draws u_i of the '
                'learned variational dequantizer q'
            )
        return {
            **super().evaluation_details(),
            'eval_noise_samples': samples,
            'dequantization': dequantization,
            'bound': f'dequantised: D log(2**n_bits) - log mean_i {weights}, an upper bound (in '
            'expectation) on the discrete NLL that tightens as the number of draws grows',
        }
