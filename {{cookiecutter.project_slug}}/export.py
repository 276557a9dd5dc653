{%- set task = cookiecutter.task -%}
"""Export a checkpoint's model to ONNX and to a torch.export program, and check both against PyTorch.

Usage:
    python export.py                                    # best checkpoint of the newest run, into exports/
    python export.py --ckpt_path logs/version_0/checkpoints/last.ckpt --output exports
    python export.py --torchscript true                 # also TorchScript, while Lightning still offers it

Writes model.onnx, weights included (a model with over 1 GiB of them gets model.onnx.data beside it,
which must stay with it), and model.pt2. Both take a batch of any size{% if task == "sequence" %}, of `sequence_length`
steps (the export fixes the length){% endif %}.
Each is run on the same batches as the PyTorch model (sizes 1, 7 and a real batch) and the script
fails if any output differs by more than the tolerance. Needs the export extras:
pip install -e ".[export]".
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import lightning
import numpy as np
import torch
from lightning.pytorch.cli import LightningArgumentParser
from packaging.version import Version
from torch import Tensor

from {{ cookiecutter.package_name }}.cli import CLI
from {{ cookiecutter.package_name }}.engine.scripts import run_script

# Up to this many bytes of weights, model.onnx holds them itself: one file to copy. Beyond, they go to
# model.onnx.data beside it (ONNX files are protobufs, capped at 2 GiB), and the two must stay together.
ONNX_WEIGHTS_INSIDE = 2**30


def example_batch(cli) -> Tensor:  # noqa: ANN001
{%- if task == "gan" %}
    """A batch of the generator's input: noise."""
    return torch.randn(16, cli.model.generator.latent_dim)
{%- else %}
    """A batch of real model input: the first test batch, normalised as in training."""
    cli.datamodule.setup("test")
    batch = next(iter(cli.datamodule.test_dataloader()))
    return cli.datamodule.on_after_batch_transfer(batch, 0)[0]
{%- endif %}


def batches_to_check(example: Tensor) -> list[Tensor]:
    """The example batch and batches of 1 and 7 rows drawn from it."""
    return [example, example[:1], example[torch.arange(7) % len(example)]]


def check(name: str, run: Callable[[Tensor], np.ndarray], model: torch.nn.Module, batches: list[Tensor]) -> float:
    """The largest difference between `run` and the model over `batches`; exits if one is too large."""
    worst = 0.0
    for batch in batches:
        with torch.no_grad():
            expected = model(batch).numpy()
        got = run(batch)
        if got.shape != expected.shape or not np.allclose(got, expected, rtol=1e-3, atol=1e-4):
            difference = np.abs(got - expected).max() if got.shape == expected.shape else float("inf")
            raise SystemExit(
                f"error: {name} differs from the PyTorch model on a batch of {len(batch)}: largest difference"
                f" {difference:.3g} (tolerance 1e-4 + 1e-3 x value), or shape {got.shape} != {expected.shape}"
            )
        worst = max(worst, float(np.abs(got - expected).max()))
    return worst


def options(parser: LightningArgumentParser) -> None:
    """export.py's own options, beside the config's."""
    parser.add_argument("--output", type=str, default="exports", help="Folder for model.onnx, model.pt2 and model.ts.")
    parser.add_argument("--torchscript", type=bool, default=False, help="Also export TorchScript (deprecated).")


def main(args: list[str] | None = None) -> dict[str, Path]:
    """Export, check, and return the files written by kind."""
    cli = CLI(args, training=False, script_arguments=options)
    import onnxruntime  # the export extras; imported here so that the rest of the project runs without them

    model = cli.model.eval()
    example = example_batch(cli)
    batches = batches_to_check(example)
    output = Path(cli.config.output)
    output.mkdir(parents=True, exist_ok=True)
    dynamic = ({0: torch.export.Dim("batch", min=1, max=65536)},)
    files = {"onnx": output / "model.onnx", "program": output / "model.pt2"}
    weights = output / "model.onnx.data"
    weights.unlink(missing_ok=True)  # an earlier export's: this one's model.onnx would not use it
    external = sum(t.numel() * t.element_size() for t in model.state_dict().values()) > ONNX_WEIGHTS_INSIDE
    if external:
        files["onnx_weights"] = weights

    torch.onnx.export(
        model,
        (example,),
        files["onnx"],
        dynamo=True,
        dynamic_shapes=dynamic,
        input_names=["input"],
        external_data=external,
    )
    session = onnxruntime.InferenceSession(str(files["onnx"]))
    onnx_error = check("ONNX", lambda batch: session.run(None, {"input": batch.numpy()})[0], model, batches)

    torch.export.save(torch.export.export(model, (example,), dynamic_shapes=dynamic), files["program"])
    program = torch.export.load(files["program"]).module()
    program_error = check("torch.export", lambda batch: program(batch).detach().numpy(), model, batches)
    sizes = ", ".join(str(len(batch)) for batch in batches)
    print(f"{files['onnx']}: matches PyTorch within {onnx_error:.1e} on batches of {sizes}")
    print(f"{files['program']}: matches PyTorch within {program_error:.1e}")

    if cli.config.torchscript:
        if not hasattr(model, "to_torchscript"):
            print(f"TorchScript: not offered by Lightning {lightning.__version__}; use model.onnx or model.pt2")
        else:
            if Version(lightning.__version__) >= Version("2.7"):
                print("TorchScript is deprecated since Lightning 2.7 (and by PyTorch): prefer model.onnx or model.pt2")
            files["torchscript"] = output / "model.ts"
            torch.jit.save(model.to_torchscript(method="trace", example_inputs=example), files["torchscript"])
            scripted = torch.jit.load(files["torchscript"])
            check("TorchScript", lambda batch: scripted(batch).detach().numpy(), model, batches)
            print(f"{files['torchscript']}: matches PyTorch (TorchScript is in maintenance: prefer the others)")
    return files


if __name__ == "__main__":
    try:
        run_script(main)
    except ModuleNotFoundError as error:
        sys.exit(f'error: {error.name} is missing: pip install -e ".[export]" installs what exporting needs')
