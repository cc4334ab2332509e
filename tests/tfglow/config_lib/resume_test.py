"""Tests for tfglow.config_lib.resume: which config changes a resumed run accepts."""

import ml_collections
from absl.testing import absltest

from tfglow import config_lib


def _saved():
    return config_lib.load_config('configs/fashion_mnist_glow.py:smoke')


class ConfigDifferencesTest(absltest.TestCase):
    def test_nested_and_sequence_values(self):
        new = _saved()
        new.model.coupling = 'additive'
        new.sample_temperatures = (0.7,)
        del new.model['learn_top']
        self.assertEqual(
            config_lib.config_differences(_saved(), new),
            {
                'model.coupling': ('affine', 'additive'),
                'model.learn_top': (True, '<absent>'),
                'sample_temperatures': ((0.0, 0.5, 0.7, 1.0), (0.7,)),
            },
        )

    def test_json_lists_equal_tuples(self):
        saved = _saved()
        saved_json = saved.to_dict()
        saved_json['sample_temperatures'] = list(saved.sample_temperatures)
        self.assertEqual(
            config_lib.config_differences(ml_collections.ConfigDict(saved_json), _saved()), {}
        )


class CheckResumeConfigTest(absltest.TestCase):
    def test_more_steps_and_cadence_are_accepted(self):
        new = _saved()
        new.num_train_steps = 10
        new.log_every_steps = 5
        new.eval_every_steps = 5
        new.checkpoint_every_steps = 5
        new.keep_checkpoints = 5
        differences = config_lib.check_resume_config(_saved(), new, step=4)
        self.assertEqual(
            set(differences),
            {
                'num_train_steps',
                'log_every_steps',
                'eval_every_steps',
                'checkpoint_every_steps',
                'keep_checkpoints',
            },
        )
        self.assertEqual(differences['num_train_steps'], (4, 10))

    def test_same_config_has_no_differences(self):
        self.assertEqual(config_lib.check_resume_config(_saved(), _saved(), step=4), {})

    def test_other_changes_are_refused_naming_each(self):
        new = _saved()
        new.batch_size = 3
        new.model.hidden_width = 32
        new.num_train_steps = 10
        with self.assertRaises(ValueError) as raised:
            config_lib.check_resume_config(_saved(), new, step=2)
        message = str(raised.exception)
        self.assertNotIn('\n', message)
        self.assertIn(
            '(checkpoint at step 2): batch_size 8 -> 3, model.hidden_width 16 -> 32;',
            message,
        )
        self.assertIn('--allow_config_change', message)
        self.assertNotIn('num_train_steps', message)

    def test_allowed_changes_are_returned(self):
        new = _saved()
        new.batch_size = 3
        differences = config_lib.check_resume_config(_saved(), new, step=2, allow_changes=True)
        self.assertEqual(differences, {'batch_size': (8, 3)})

    def test_fewer_steps_than_done_is_refused_even_when_allowed(self):
        new = _saved()
        new.num_train_steps = 3
        for allow in (False, True):
            with self.assertRaisesRegex(
                ValueError, r'^the run is already at step 4, past num_train_steps=3: nothing'
            ):
                config_lib.check_resume_config(_saved(), new, step=4, allow_changes=allow)
        # Fewer steps than the saved config, but not fewer than done: the run continues.
        self.assertEqual(
            config_lib.check_resume_config(_saved(), new, step=2), {'num_train_steps': (4, 3)}
        )

    def test_keys_added_since_the_run_count_only_when_not_the_default(self):
        saved = _saved()
        del saved['sample_upscale']
        del saved.model['network_dtype']
        self.assertEqual(config_lib.check_resume_config(saved, _saved(), step=2), {})
        new = _saved()
        new.model.network_dtype = 'bfloat16'
        with self.assertRaisesRegex(ValueError, r"model\.network_dtype '<absent>' -> 'bfloat16'"):
            config_lib.check_resume_config(saved, new, step=2)

    def test_how_grids_are_drawn_is_accepted(self):
        new = _saved()
        new.sample_upscale = 4
        differences = config_lib.check_resume_config(_saved(), new, step=2)
        self.assertEqual(differences, {'sample_upscale': (0, 4)})

    def test_format_differences(self):
        self.assertEqual(
            config_lib.format_differences({'batch_size': (64, 3), 'model.coupling': ('a', 'b')}),
            "batch_size 64 -> 3, model.coupling 'a' -> 'b'",
        )


if __name__ == '__main__':
    absltest.main()
