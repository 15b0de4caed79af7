"""A Beam plugin: the DirectRunner's worker processes collect less garbage.

``runner.pipeline_options`` names this module in ``--beam_plugins`` on the
DirectRunner. Beam's SDK worker (``sdk_worker_main``) imports its plugins as
it starts, once per process, after Beam itself is imported and before it
runs any bundle; importing this module is the hook that applies
``collector.collect_less`` there. Nothing else imports it.
"""

from beam import collector

collector.collect_less()
