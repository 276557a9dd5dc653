{%- set task = cookiecutter.task -%}
{%- set images = cookiecutter.dataset != "signal" -%}
"""Predict with a checkpoint and write the results as CSV.

Usage:
{%- if task == "gan" %}
    python predict.py                                   # 64 generated images from the best checkpoint of the newest run
    python predict.py --count 500 --output samples/samples.csv
{%- elif task == "sequence" %}
    python predict.py                                   # best checkpoint of the newest run, on its test split
    python predict.py --horizon 24 --output forecasts.csv
{%- else %}
    python predict.py                                   # best checkpoint of the newest run, on its test split
    python predict.py --input path/to/images --output predictions.csv
{%- endif %}
    python predict.py --ckpt_path logs/version_0/checkpoints/last.ckpt

{% if task == "classification" -%}
Each row: the image (a file, or test:<index>), the predicted class and label, its probability, and
for the test split the true class.
{%- elif task == "autoencoder" -%}
Each row: the image (a file, or test:<index>) and its embedding, one column per dimension.
{%- elif task == "gan" -%}
Writes `count` generated images as PNG files beside the CSV, which lists them.
{%- else -%}
Each row: a test sequence and the forecast of the next `horizon` steps, one column per step and variable.
{%- endif %}
"""

from __future__ import annotations

import csv
from pathlib import Path

import torch
from lightning.pytorch.cli import LightningArgumentParser
{%- if task == "gan" %}
from torchvision.utils import save_image
{%- endif %}

from {{ cookiecutter.package_name }}.cli import CLI
{%- if images and task != "gan" and cookiecutter.dataset == "image_folder" %}
from {{ cookiecutter.package_name }}.data import folder_batches
{%- endif %}
{%- if images and task != "gan" %}
from {{ cookiecutter.package_name }}.engine.image_data import to_model_input
{%- endif %}
from {{ cookiecutter.package_name }}.engine.runs import run_of
from {{ cookiecutter.package_name }}.engine.scripts import run_script
{%- if images and task != "gan" and cookiecutter.dataset != "image_folder" %}
from {{ cookiecutter.package_name }}.image_folder import folder_batches
{%- endif %}


def options(parser: LightningArgumentParser) -> None:
    """predict.py's own options, beside the config's."""
{%- if task == "gan" %}
    parser.add_argument("--count", type=int, default=64, help="Images to generate.")
{%- elif task == "sequence" %}
    parser.add_argument("--horizon", type=int, default=1, help="Steps to forecast after each sequence.")
{%- else %}
    parser.add_argument("--input", type=str | None, default=None, help="A folder of images (default: the test split).")
{%- endif %}
    parser.add_argument(
        "--output", type=str | None, default=None, help="The CSV to write (default: predictions.csv in the run folder)."
    )


def main(args: list[str] | None = None) -> Path:
    """Write the predictions and return the CSV's path."""
    cli = CLI(args, training=False, script_arguments=options)
    config = cli.config
    output = Path(config.output) if config.output else run_of(Path(config.ckpt_path)) / "predictions.csv"
    output.parent.mkdir(parents=True, exist_ok=True)
    model = cli.model.eval()
{%- if task == "gan" %}
    torch.manual_seed(cli.config.seed_everything or 0)
    with torch.no_grad():
        samples = model(torch.randn(config.count, model.generator.latent_dim))
    rows = []
    for index, image in enumerate(samples):
        path = output.with_name(f"{output.stem}-{index:04d}.png")
        save_image(image, path, normalize=True, value_range=(-1, 1))
        rows.append({"image": path.name})
{%- elif task == "sequence" %}
    data = cli.datamodule
    data.setup("test")
    rows = []
    history = data.splits["test"].inputs
    with torch.no_grad():
        forecasts = model.forecast(history, config.horizon)  # (sequences, horizon, variables)
    for index, forecast in enumerate(forecasts):
        steps = {f"step{s + 1}_var{v}": float(value) for s, step in enumerate(forecast) for v, value in enumerate(step)}
        rows.append({"sequence": f"test:{index}", **steps})
{%- else %}
    data = cli.datamodule
    if config.input:
        batches, pixel_max = folder_batches(Path(config.input), model.hparams.input_shape), 255.0
    else:
        data.setup("test")
        test = data.splits["test"]
        batches, pixel_max = [([f"test:{i}" for i in range(len(test))], test.inputs)], data.pixel_max
    rows = []
    with torch.no_grad():
        for sources, images in batches:
            inputs = to_model_input(images, data.mean, data.std, pixel_max, data.hparams.normalize)
            out = model.predict_step((inputs, None), 0)
{%- if task == "classification" %}
            for source, label, probability in zip(sources, out["class"], out["probability"], strict=True):
                label = int(label)
                row = {"image": str(source), "class": label, "label": data.class_names[label]}
                rows.append({**row, "probability": float(probability)})
    if not config.input:
        for row, target in zip(rows, data.splits["test"].targets.tolist(), strict=True):
            row["target"] = target
{%- else %}
            for source, embedding in zip(sources, out["embedding"].tolist(), strict=True):
                rows.append({"image": str(source), **{f"e{i}": value for i, value in enumerate(embedding)}})
{%- endif %}
{%- endif %}
    with output.open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"{len(rows)} rows written to {output}")
    return output


if __name__ == "__main__":
    run_script(main)
