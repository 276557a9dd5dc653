"""Search hyper-parameters with Optuna: each trial is a run of train.py with the trial's values, pruned
early when its validation metric falls behind; the study is kept in sweeps/<study>/study.db.

Usage:
    python sweep.py --n_trials 20                           # the space in configs/sweep.yaml
    python sweep.py --n_trials 20 --trainer.max_epochs 5    # any train.py flag applies to every trial
    python sweep.py --n_trials 40 --study wide --space my_space.yaml
    python sweep.py --n_trials 20                           # again: goes on with the study where it was
    optuna-dashboard sqlite:///sweeps/sweep/study.db        # watch it (pip install optuna-dashboard)

At the end: a table of the trials, sweeps/<study>/best.yaml (python train.py --config
sweeps/<study>/best.yaml trains the best trial again), history.png and importances.png. Several
sweep.py processes (or a SLURM job array) started with the same --study share it.
"""

from __future__ import annotations

from {{ cookiecutter.package_name }}.engine.scripts import run_script
from {{ cookiecutter.package_name }}.engine.sweeps import main

if __name__ == "__main__":
    run_script(main)
