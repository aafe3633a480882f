"""The loading options every model-loading subcommand shares: accelerate's dispatch of a model
across the GPUs of one box, with CPU/disk offload (``taskvec.models.load_model``)."""

from __future__ import annotations


def add_dispatch_args(p) -> None:
    from taskvec.models.loading import DEVICE_MAPS

    p.add_argument("--device-map", choices=DEVICE_MAPS, default=None,
                   help="spread a model larger than one GPU over the box's GPUs (accelerate), offloading to CPU/disk "
                        "where memory runs out; hub ids and local folders")
    p.add_argument("--max-memory", default=None, metavar="DEV=SIZE,...",
                   help="per-device budget for --device-map, e.g. 0=20GiB,1=20GiB,cpu=64GiB")
    p.add_argument("--offload-folder", default=None, help="where --device-map offloads weights to disk")


def dispatch_kwargs(args) -> dict:
    from taskvec.models.loading import parse_max_memory

    return {"device_map": getattr(args, "device_map", None),
            "max_memory": parse_max_memory(getattr(args, "max_memory", None)),
            "offload_folder": getattr(args, "offload_folder", None)}
