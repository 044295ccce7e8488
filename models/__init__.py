"""The Keras 3 side of ganhpo: GAN families, their data, metrics and the trial entry point.

Never imports the orchestrator's runtime; the two meet at ``models.trial.run_trial``.
"""
