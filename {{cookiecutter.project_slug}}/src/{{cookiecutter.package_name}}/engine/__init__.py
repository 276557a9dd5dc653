"""The machinery behind the scripts: the command line, the Trainer, run folders, exact resume, several
processes, safe checkpoints and speed-ups. It is the same in every project generated from the template
and does not depend on the task: read it when curious; the code to change is model.py, nets.py and
data.py, one level up."""
