"""The sample shop: a behaviour simulator that writes every entity of the raw-data contract.

`churnwatch sample` (see `cli.py`) writes the files, a manifest of the injected defects
(`_manifest.json`) and the latent ground truth (`_truth/`); `truth.true_churn_probability`
gives the true probability of the churn label, the ceiling for any model.

Modules: `model` (the latent behaviour model), `simulate` (one chunk of customers),
`defects` (defect injection), `writer` (files and manifest), `truth` (ground truth),
`cli` (argparse subcommand). Heavy imports happen inside those modules, not here.
"""
