"""`fakenews compile-kubeflow`: compile the pipeline for Kubeflow Pipelines and, optionally,
write the Kubernetes manifests serving the model it pushes (same config, so same paths).
The options saying what the DAG does are `fakenews run`'s (fakenews/commands/pipeline_options.py)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kubeflow.s3 import S3Access

from fakenews.commands import input_options, pipeline_options


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from kubeflow import resources
    from kubeflow.manifests import TF_SERVING_IMAGE
    from pipeline import beam_presets

    parser.add_argument("--image", required=True,
                        help="the pipeline image every task runs (make image), pinned: NAME:TAG or NAME@DIGEST")
    parser.add_argument("--pipeline-root", required=True, metavar="URI",
                        help="bucket URI for the run's artifacts; the model is pushed to URI/serving/<model>")
    parser.add_argument("--data", required=True, metavar="URI",
                        help="bucket URI of the raw CSV, a file or a folder of them (the pipeline checks it;"
                        " fakenews stage checks it locally first)")
    parser.add_argument("--output", default="pipeline.json",
                        help=".json: PipelineJob (Vertex AI Pipelines); .yaml: PipelineSpec (Kubeflow Pipelines UI,"
                        " kfp.Client) (default: %(default)s)")
    parser.add_argument("--no-baseline", action="store_true",
                        help="do not compare with the model served under <pipeline-root>/serving/<model>;"
                        " the AUC lower bound alone then decides the blessing")
    input_options.add_column_arguments(parser)
    pipeline_options.add_arguments(parser)
    resources.add_arguments(parser)
    s3 = parser.add_argument_group("S3-compatible stores (s3:// roots: AWS S3, MinIO)")
    s3.add_argument("--s3-endpoint", metavar="URL",
                    help="the store's endpoint, set as AWS_ENDPOINT_URL in every task (MinIO in the cluster:"
                    " http://minio-service.kubeflow:9000); default: AWS S3")
    s3.add_argument("--s3-region", metavar="REGION", help="set as AWS_REGION in every task")
    s3.add_argument("--s3-credentials-secret", metavar="NAME",
                    help="Kubernetes secret (run's namespace) whose keys become AWS_ACCESS_KEY_ID and"
                    " AWS_SECRET_ACCESS_KEY in every task (.yaml output only); default: the pods' own identity")
    s3.add_argument("--s3-secret-keys", default="AWS_ACCESS_KEY_ID,AWS_SECRET_ACCESS_KEY", metavar="ACCESS,SECRET",
                    help="the secret's two keys (KFP's MinIO secret mlpipeline-minio-artifact: accesskey,secretkey)"
                    " (default: %(default)s)")
    beam_presets.add_arguments(parser)
    parser.add_argument("--beam-arg", action="append", default=[], metavar="ARG",
                        help="extra Beam argument after the preset's, repeatable (e.g. --service_account_email=...)")
    serving = parser.add_argument_group("serving manifests")
    serving.add_argument("--manifests-dir", metavar="DIR",
                         help="also write tfserving.yaml (Deployment + Service) and kserve.yaml here")
    serving.add_argument("--model-pvc", metavar="CLAIM",
                         help="serve from this PersistentVolumeClaim, holding <model>/<version>/, not the bucket")
    serving.add_argument("--serving-image", default=TF_SERVING_IMAGE,
                         help="TF Serving image; KServe's runtimeVersion is its tag (default: %(default)s)")


def _s3_access(args: argparse.Namespace) -> S3Access | None:
    """The S3 flags as a kubeflow.s3.S3Access; None when none is given."""
    from kubeflow.s3 import SCHEME, S3Access

    given = [flag for flag, value in (("--s3-endpoint", args.s3_endpoint), ("--s3-region", args.s3_region),
                                      ("--s3-credentials-secret", args.s3_credentials_secret)) if value]
    if not given:
        return None
    if not any(uri.startswith(f"{SCHEME}://") for uri in (args.pipeline_root, args.data)):
        raise ValueError(f"{given[0]}: neither --pipeline-root nor --data is an {SCHEME}:// URI")
    return S3Access(endpoint=args.s3_endpoint, region=args.s3_region, credentials_secret=args.s3_credentials_secret,
                    secret_keys=tuple(key.strip() for key in args.s3_secret_keys.split(",")))


def main(args: argparse.Namespace) -> int:
    from kubeflow import manifests, resources, runner
    from pipeline import beam_presets
    from pipeline.pipeline import run_parameter_values

    # Everything that can be wrong with the flags is checked before the (slower) compilation.
    try:
        beam_args = beam_presets.beam_args(args.beam_preset, beam_presets.settings_from(args), args.image)
        locations = runner.kubeflow_locations(args.pipeline_root, args.data)
        config = pipeline_options.config_from(args, beam_args=beam_args + tuple(args.beam_arg),
                                              compare_with_baseline=not args.no_baseline)
        task_resources = resources.resources_from(args)
        runner.check_image(args.image)
        s3 = _s3_access(args)
        runner.check_output(args.output, s3)
        if (args.model_pvc or args.serving_image != manifests.TF_SERVING_IMAGE) and not args.manifests_dir:
            raise ValueError("--model-pvc and --serving-image shape the manifests: add --manifests-dir")
        serving_base = locations.serving_base(config.model_name)
        rendered = manifests.render(config, serving_base, args.model_pvc, args.serving_image) if args.manifests_dir else {}
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    job = runner.compile_pipeline(config, locations, args.image, resources=task_resources, s3=s3)
    runner.write(job, args.output, s3)
    tasks = len(job.pipeline_spec["root"]["dag"]["tasks"])
    print(f"Wrote {args.output}: {tasks} tasks on {args.image}, Beam preset '{args.beam_preset}'")
    print(f"  pipeline root: {locations.pipeline_root}")
    print(f"  input:         {locations.data}")
    print(f"  model pushed:  {serving_base}")
    print("  run parameters (a run may change them): "
          + ", ".join(f"{name}={value}" for name, value in run_parameter_values(config).items()))
    if rendered:
        for path in manifests.write(rendered, args.manifests_dir):
            print(f"Wrote {path}")
    return 0
