"""The model manifest, and installing and verifying the models it names.

    manifest = load_manifest()
    install_profile(manifest, "dev", data_dir, progress=True)
    llm, stt, tts = manifest.models_of("dev")
    path = model_path(llm, data_dir)   # the .gguf; the folder for stt; the .onnx for tts

Nothing here imports a model runtime: this package only moves and checks files.
"""

from __future__ import annotations

from models.download import download_file, part_path
from models.install import InstallOutcome, install_model, install_profile
from models.locate import file_path, model_path, models_dir, package_dir
from models.manifest import (
    DEFAULT_MANIFEST,
    KINDS,
    Kind,
    Manifest,
    ModelEntry,
    ModelFile,
    Profile,
    PromptStyle,
    Source,
    load_manifest,
    parse_manifest,
)
from models.verify import FileCheck, Status, VerifyResult, record_verified, verify_model, verify_profile

__all__ = [
    "DEFAULT_MANIFEST",
    "KINDS",
    "FileCheck",
    "InstallOutcome",
    "Kind",
    "Manifest",
    "ModelEntry",
    "ModelFile",
    "Profile",
    "PromptStyle",
    "Source",
    "Status",
    "VerifyResult",
    "download_file",
    "file_path",
    "install_model",
    "install_profile",
    "load_manifest",
    "model_path",
    "models_dir",
    "package_dir",
    "parse_manifest",
    "part_path",
    "record_verified",
    "verify_model",
    "verify_profile",
]
